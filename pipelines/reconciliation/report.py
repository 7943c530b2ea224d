"""gold.reconciliation: counts and quantities per tenant and period, layer by layer.

One row per tenant and period (YYYY-MM). Record counts follow each Kafka
record by its coordinates (see ``conservation``) and attribute it to the UTC
month of its Kafka record timestamp. Quantities compare gold.usage_hourly with
the invoice's charge lines over the invoice's period ``[period_start,
period_end)``, or the UTC month when the tenant has no invoice yet.

A rerun replaces the period's rows (Delta ``replaceWhere`` on ``period``), so
the table contains the latest reconciliation of each period.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
)
from pyspark.sql.window import Window

from pipelines.billing.vocabulary import DocumentType, LineType
from pipelines.billing.vocabulary import InvoiceColumn as I
from pipelines.config import Settings
from pipelines.reconciliation.conservation import conservation_by_tenant, month_bounds, quarantine_tenant, _in_period
from pipelines.schemas import QUANTITY_TYPE
from pipelines.silver.validate import SPARK_TENANT_ID_REGEX
from pipelines.tables import current_version, ensure_table, read_table, table_exists, table_path
from pipelines.vocabulary import Aggregation, InvoiceStatus, Table
from pipelines.vocabulary import Column as C

log = logging.getLogger(__name__)

# Only these aggregations add up from hours to a period; a MAX or a
# UNIQUE_COUNT over a month cannot be rebuilt from hourly rows.
ADDITIVE = (Aggregation.SUM.value, Aggregation.COUNT.value)
ZERO = Decimal(0)


class ReconciliationStatus(str, Enum):
    """Verdict of one tenant and period, most severe first."""

    KAFKA_GAP = "KAFKA_GAP"
    UNBALANCED = "UNBALANCED"
    QUANTITY_MISMATCH = "QUANTITY_MISMATCH"
    NOT_INVOICED = "NOT_INVOICED"
    BALANCED = "BALANCED"


BLOCKING_STATUSES = (ReconciliationStatus.KAFKA_GAP, ReconciliationStatus.UNBALANCED)


class ReconciliationColumn:
    TENANT_ID = "tenant_id"
    PERIOD = "period"
    KAFKA_RECORDS_READ = "kafka_records_read"
    BRONZE_ROWS = "bronze_rows"
    SILVER_ROWS = "silver_rows"
    QUARANTINED_ROWS = "quarantined_rows"
    QUARANTINED_BY_REASON = "quarantined_by_reason"
    DUPLICATE_ROWS = "duplicate_rows"
    UNACCOUNTED_ROWS = "unaccounted_rows"
    MULTIPLE_ROWS = "multiple_rows"
    NOT_IN_BRONZE_ROWS = "not_in_bronze_rows"
    KAFKA_GAPS = "kafka_gaps"
    METERS = "meters"
    INVOICE_ID = "invoice_id"
    STATUS = "status"
    STATUS_DETAIL = "status_detail"
    BRONZE_VERSION = "bronze_version"
    SILVER_VERSION = "silver_version"
    GOLD_VERSION = "gold_version"
    INVOICES_VERSION = "invoices_version"
    INVOICE_LINES_VERSION = "invoice_lines_version"


RC = ReconciliationColumn

KAFKA_GAP = StructType([
    StructField(C.TOPIC, StringType(), True),
    StructField(C.PARTITION, IntegerType(), True),
    StructField("first_missing_offset", LongType(), True),
    StructField("last_missing_offset", LongType(), True),
    StructField("missing_offsets", LongType(), True),
])

METER_RECONCILIATION = StructType([
    StructField(C.METER, StringType(), True),
    StructField(C.AGGREGATION, StringType(), True),
    StructField("metered_quantity", QUANTITY_TYPE, True),
    StructField("invoiced_quantity", QUANTITY_TYPE, True),
    StructField("difference", QUANTITY_TYPE, True),
    StructField("status", StringType(), True),
])

RECONCILIATION = StructType([
    StructField(RC.TENANT_ID, StringType(), False),
    StructField(RC.PERIOD, StringType(), False),
    StructField(RC.KAFKA_RECORDS_READ, LongType(), False),
    StructField(RC.BRONZE_ROWS, LongType(), False),
    StructField(RC.SILVER_ROWS, LongType(), False),
    StructField(RC.QUARANTINED_ROWS, LongType(), False),
    StructField(RC.QUARANTINED_BY_REASON, MapType(StringType(), LongType(), True), False),
    StructField(RC.DUPLICATE_ROWS, LongType(), False),
    StructField(RC.UNACCOUNTED_ROWS, LongType(), False),
    StructField(RC.MULTIPLE_ROWS, LongType(), False),
    StructField(RC.NOT_IN_BRONZE_ROWS, LongType(), False),
    StructField(RC.KAFKA_GAPS, ArrayType(KAFKA_GAP, True), False),
    StructField(RC.METERS, ArrayType(METER_RECONCILIATION, True), False),
    StructField(RC.INVOICE_ID, StringType(), True),
    StructField(RC.STATUS, StringType(), False),
    StructField(RC.STATUS_DETAIL, StringType(), False),
    StructField(RC.BRONZE_VERSION, LongType(), True),
    StructField(RC.SILVER_VERSION, LongType(), True),
    StructField(RC.GOLD_VERSION, LongType(), True),
    StructField(RC.INVOICES_VERSION, LongType(), True),
    StructField(RC.INVOICE_LINES_VERSION, LongType(), True),
])


@dataclass(frozen=True)
class KafkaGap:
    """Offsets of one partition that bronze never received, between two offsets it has."""

    topic: str
    partition: int
    first_missing_offset: int
    last_missing_offset: int
    periods: tuple[str, ...]
    tenant_ids: tuple[str, ...] = ()

    @property
    def missing_offsets(self) -> int:
        return self.last_missing_offset - self.first_missing_offset + 1

    def describe(self) -> str:
        return (f"topic {self.topic} partition {self.partition} offsets {self.first_missing_offset}-"
                f"{self.last_missing_offset} ({self.missing_offsets} records) are missing in bronze")


def find_kafka_gaps(bronze: DataFrame) -> list[KafkaGap]:
    """Find offsets missing in bronze inside each partition's range of read offsets.

    A gap lies between two offsets that bronze contains. It belongs to the
    periods of the two records around it (by Kafka timestamp, UTC), and to
    the tenants with bronze records from that partition in those periods.

    NOTE: offsets before the first one read are not checked, because a stream
    that started at ``latest`` never meant to read them. Transaction markers
    also take offsets, so a topic written by transactional producers shows
    false gaps here.
    """
    ordered = Window.partitionBy(C.TOPIC, C.PARTITION).orderBy(C.OFFSET)
    coordinates = bronze.select(C.TOPIC, C.PARTITION, C.OFFSET, C.KAFKA_TIMESTAMP).distinct()
    with_previous = coordinates.select(
        "*", F.lag(C.OFFSET).over(ordered).alias("previous_offset"),
        F.lag(C.KAFKA_TIMESTAMP).over(ordered).alias("previous_timestamp"))
    gaps = with_previous.where(F.col(C.OFFSET) - F.col("previous_offset") > 1).select(
        C.TOPIC, C.PARTITION, (F.col("previous_offset") + 1).alias("first"), (F.col(C.OFFSET) - 1).alias("last"),
        F.date_format("previous_timestamp", "yyyy-MM").alias("period_before"),
        F.date_format(C.KAFKA_TIMESTAMP, "yyyy-MM").alias("period_after"),
    ).orderBy(C.TOPIC, C.PARTITION, "first").collect()
    return [KafkaGap(row[C.TOPIC], row[C.PARTITION], row["first"], row["last"],
                     tuple(sorted({row["period_before"], row["period_after"]}))) for row in gaps]


def partition_tenants(bronze: DataFrame, period: str) -> dict[tuple[str, int], set[str]]:
    """Tenants (by Kafka key) with bronze records in each topic and partition during ``period``."""
    keyed = _in_period(bronze, period).where(F.col(C.KAFKA_KEY).rlike(SPARK_TENANT_ID_REGEX))
    rows = keyed.select(C.TOPIC, C.PARTITION, C.KAFKA_KEY).distinct().collect()
    tenants: dict[tuple[str, int], set[str]] = defaultdict(set)
    for row in rows:
        tenants[(row[C.TOPIC], row[C.PARTITION])].add(row[C.KAFKA_KEY])
    return tenants


def reconcile_period(spark: SparkSession, settings: Settings, period: str) -> list[dict]:
    """Compute the reconciliation rows of ``period`` (YYYY-MM) for every tenant seen in it."""
    versions = {table: current_version(spark, settings, table) for table in (
        Table.BRONZE_EVENTS, Table.SILVER_EVENTS, Table.GOLD_HOURLY, Table.GOLD_INVOICES, Table.GOLD_INVOICE_LINES)}
    bronze = read_table(spark, settings, Table.BRONZE_EVENTS)

    counts = {row[C.TENANT_ID]: row.asDict() for row in conservation_by_tenant(spark, settings, period).collect()}
    reasons = _quarantine_reasons(spark, settings, period)
    gaps = _gaps_by_tenant(bronze, period)
    invoices = _invoices_of(spark, settings, period)
    metered = _metered_quantities(spark, settings, period, invoices)
    invoiced = _invoiced_quantities(spark, settings, invoices)

    tenants = sorted(set(counts) | set(invoices) | set(metered) | set(gaps))
    return [_tenant_row(tenant, period, counts.get(tenant), reasons.get(tenant, {}), gaps.get(tenant, []),
                        invoices.get(tenant), metered.get(tenant, {}), invoiced.get(tenant, {}), versions)
            for tenant in tenants]


def write_reconciliation(spark: SparkSession, settings: Settings, period: str, rows: list[dict]) -> None:
    """Replace the rows of ``period`` in gold.reconciliation with ``rows``."""
    ensure_table(spark, settings, Table.GOLD_RECONCILIATION, RECONCILIATION, partition_by=(RC.PERIOD,))
    frame = spark.createDataFrame([tuple(row[field.name] for field in RECONCILIATION) for row in rows], RECONCILIATION)
    (frame.write.format("delta").mode("overwrite").option("replaceWhere", f"{RC.PERIOD} = '{period}'")
     .save(table_path(settings, Table.GOLD_RECONCILIATION)))


def _quarantine_reasons(spark, settings, period) -> dict[str, dict[str, int]]:
    quarantine = _in_period(read_table(spark, settings, Table.SILVER_QUARANTINE), period)
    rows = quarantine.groupBy(quarantine_tenant().alias(C.TENANT_ID), C.REASON_CODE).count().collect()
    reasons: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        reasons[row[C.TENANT_ID]][row[C.REASON_CODE]] = int(row["count"])
    return reasons


def _gaps_by_tenant(bronze: DataFrame, period: str) -> dict[str, list[KafkaGap]]:
    gaps = [gap for gap in find_kafka_gaps(bronze) if period in gap.periods]
    if not gaps:
        return {}
    tenants = partition_tenants(bronze, period)
    by_tenant: dict[str, list[KafkaGap]] = defaultdict(list)
    for gap in gaps:
        affected = sorted(tenants.get((gap.topic, gap.partition), set()))
        log.error("period %s: %s; invoices of tenants %s are blocked", period, gap.describe(), affected)
        for tenant in affected:
            by_tenant[tenant].append(gap)
    return by_tenant


def _invoices_of(spark, settings, period) -> dict[str, dict]:
    """Return each tenant's invoice header of the period, leaving out credit notes and voided drafts."""
    if not table_exists(spark, settings, Table.GOLD_INVOICES):
        return {}
    rows = (read_table(spark, settings, Table.GOLD_INVOICES)
            .where((F.col(I.PERIOD) == period) & (F.col(I.DOCUMENT_TYPE) == DocumentType.INVOICE.value)
                   & (F.col(I.STATUS) != InvoiceStatus.VOIDED.value))
            .select(I.TENANT_ID, I.INVOICE_ID, I.PERIOD_START, I.PERIOD_END).collect())
    return {row[I.TENANT_ID]: row.asDict() for row in rows}


def _metered_quantities(spark, settings, period, invoices) -> dict[str, dict[str, tuple[str, Decimal]]]:
    if not table_exists(spark, settings, Table.GOLD_HOURLY):
        return {}
    start, end = month_bounds(period)
    gold = read_table(spark, settings, Table.GOLD_HOURLY)
    month_tenants = [row[0] for row in gold.where((F.col(C.WINDOW_START) >= F.lit(start))
                                                  & (F.col(C.WINDOW_START) < F.lit(end)))
                     .select(C.TENANT_ID).distinct().collect()]
    bounds = {tenant: (start, end) for tenant in month_tenants}
    bounds.update({tenant: (header[I.PERIOD_START], header[I.PERIOD_END]) for tenant, header in invoices.items()})
    if not bounds:
        return {}
    frame = spark.createDataFrame([(tenant, low, high) for tenant, (low, high) in sorted(bounds.items())],
                                  f"{C.TENANT_ID} string, low timestamp, high timestamp")
    rows = (gold.join(F.broadcast(frame), C.TENANT_ID)
            .where((F.col(C.WINDOW_START) >= F.col("low")) & (F.col(C.WINDOW_START) < F.col("high")))
            .groupBy(C.TENANT_ID, C.METER, C.AGGREGATION).agg(F.sum(C.QUANTITY).alias(C.QUANTITY)).collect())
    metered: dict[str, dict[str, tuple[str, Decimal]]] = defaultdict(dict)
    for row in rows:
        metered[row[C.TENANT_ID]][row[C.METER]] = (row[C.AGGREGATION], row[C.QUANTITY])
    return metered


def _invoiced_quantities(spark, settings, invoices) -> dict[str, dict[str, Decimal]]:
    """Quantity billed per tenant and meter on the period's invoice.

    Lines of one charge (one per plan window or price key) add up; two charges
    on the same meter both bill the whole quantity, so the larger one counts.
    NOTE: adjustment lines for late usage on a later invoice are not counted
    here, so a period corrected that way reconciles as QUANTITY_MISMATCH.
    """
    if not invoices or not table_exists(spark, settings, Table.GOLD_INVOICE_LINES):
        return {}
    ids = sorted(header[I.INVOICE_ID] for header in invoices.values())
    rows = (read_table(spark, settings, Table.GOLD_INVOICE_LINES)
            .where(F.col(I.INVOICE_ID).isin(ids) & (F.col(I.LINE_TYPE) == LineType.CHARGE.value)
                   & F.col(I.METER).isNotNull())
            .groupBy(I.TENANT_ID, I.METER, I.PLAN_ID, I.CHARGE_ID).agg(F.sum(I.QUANTITY).alias(I.QUANTITY)).collect())
    per_plan: dict[tuple[str, str, str], Decimal] = {}
    for row in rows:
        key = (row[I.TENANT_ID], row[I.METER], row[I.PLAN_ID] or "")
        per_plan[key] = max(per_plan.get(key, ZERO), row[I.QUANTITY] or ZERO)
    invoiced: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for (tenant, meter, _plan), quantity in per_plan.items():
        invoiced[tenant][meter] = invoiced[tenant].get(meter, ZERO) + quantity
    return invoiced


def _meter_rows(metered: dict[str, tuple[str, Decimal]], invoiced: dict[str, Decimal],
                has_invoice: bool) -> list[tuple]:
    rows = []
    for meter in sorted(set(metered) | set(invoiced)):
        aggregation, quantity = metered.get(meter, (None, None))
        billed = invoiced.get(meter, ZERO if has_invoice else None)
        if aggregation is not None and aggregation not in ADDITIVE:
            rows.append((meter, aggregation, None, billed, None, "NOT_ADDITIVE"))
            continue
        quantity = quantity if quantity is not None else ZERO
        if billed is None:
            rows.append((meter, aggregation, quantity, None, None, ReconciliationStatus.NOT_INVOICED.value))
            continue
        difference = quantity - billed
        status = ReconciliationStatus.BALANCED if difference == 0 else ReconciliationStatus.QUANTITY_MISMATCH
        rows.append((meter, aggregation, quantity, billed, difference, status.value))
    return rows


def _tenant_row(tenant, period, counts, reasons, gaps, invoice, metered, invoiced, versions) -> dict:
    counts = counts or {}
    number = {name: int(counts.get(name) or 0) for name in (
        "kafka_records_read", "bronze", "silver", "quarantine", "duplicates", "unaccounted", "multiple", "not_in_bronze")}
    meters = _meter_rows(metered, invoiced, invoice is not None)
    problems = []
    status = ReconciliationStatus.BALANCED
    if gaps:
        status = ReconciliationStatus.KAFKA_GAP
        problems += [gap.describe() for gap in gaps]
    balanced = (number["unaccounted"] == 0 and number["multiple"] == 0 and number["not_in_bronze"] == 0
                and number["bronze"] == number["silver"] + number["quarantine"] + number["duplicates"]
                and number["kafka_records_read"] == number["bronze"])
    if not balanced:
        status = status if gaps else ReconciliationStatus.UNBALANCED
        problems.append(f"{number['bronze']} bronze rows ({number['kafka_records_read']} distinct Kafka records) vs "
                        f"{number['silver']} silver + {number['quarantine']} quarantined + {number['duplicates']} "
                        f"duplicates; {number['unaccounted']} unaccounted, {number['multiple']} in more than one "
                        f"table, {number['not_in_bronze']} not in bronze")
    mismatched = [row for row in meters if row[5] == ReconciliationStatus.QUANTITY_MISMATCH.value]
    if mismatched:
        status = status if status is not ReconciliationStatus.BALANCED else ReconciliationStatus.QUANTITY_MISMATCH
        problems += [f"meter {row[0]}: metered {row[2]}, invoiced {row[3]}" for row in mismatched]
    if invoice is None and status is ReconciliationStatus.BALANCED and meters:
        status = ReconciliationStatus.NOT_INVOICED
        problems.append(f"no invoice for {period} yet")

    return {
        RC.TENANT_ID: tenant, RC.PERIOD: period, RC.KAFKA_RECORDS_READ: number["kafka_records_read"],
        RC.BRONZE_ROWS: number["bronze"], RC.SILVER_ROWS: number["silver"], RC.QUARANTINED_ROWS: number["quarantine"],
        RC.QUARANTINED_BY_REASON: dict(sorted(reasons.items())), RC.DUPLICATE_ROWS: number["duplicates"],
        RC.UNACCOUNTED_ROWS: number["unaccounted"], RC.MULTIPLE_ROWS: number["multiple"],
        RC.NOT_IN_BRONZE_ROWS: number["not_in_bronze"],
        RC.KAFKA_GAPS: [(gap.topic, gap.partition, gap.first_missing_offset, gap.last_missing_offset,
                         gap.missing_offsets) for gap in gaps],
        RC.METERS: meters, RC.INVOICE_ID: invoice[I.INVOICE_ID] if invoice else None,
        RC.STATUS: status.value, RC.STATUS_DETAIL: "; ".join(problems) or "all layers reconcile",
        RC.BRONZE_VERSION: versions[Table.BRONZE_EVENTS], RC.SILVER_VERSION: versions[Table.SILVER_EVENTS],
        RC.GOLD_VERSION: versions[Table.GOLD_HOURLY], RC.INVOICES_VERSION: versions[Table.GOLD_INVOICES],
        RC.INVOICE_LINES_VERSION: versions[Table.GOLD_INVOICE_LINES],
    }

