"""Conservation: every bronze record ends in exactly one downstream table.

The check joins bronze with silver, quarantine and duplicates on the Kafka
coordinates (topic, partition, offset), so it proves more than equal counts:
a record missing from all three, or present in two, shows up by name.

Records are attributed to the tenant that the downstream row names; a
quarantined record without a valid tenant id is attributed to its Kafka key
when that is a valid tenant id, and to ``(invalid)`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.billing.periods import next_month, parse_period
from pipelines.config import Settings
from pipelines.silver.validate import SPARK_TENANT_ID_REGEX
from pipelines.tables import read_table
from pipelines.vocabulary import Column as C
from pipelines.vocabulary import Table

COORDINATES = [C.TOPIC, C.PARTITION, C.OFFSET]
INVALID_TENANT = "(invalid)"
OUTCOME = "outcome"


@dataclass(frozen=True)
class ConservationTotals:
    """Record counts over all tenants; the last three must be 0."""

    bronze: int
    silver: int
    quarantine: int
    duplicates: int
    unaccounted: int
    multiple: int
    not_in_bronze: int

    @property
    def holds(self) -> bool:
        return (self.unaccounted == 0 and self.multiple == 0 and self.not_in_bronze == 0
                and self.bronze == self.silver + self.quarantine + self.duplicates)


def month_bounds(period: str) -> tuple[datetime, datetime]:
    """Return ``[start, end)`` in UTC of a ``YYYY-MM`` period.

    >>> month_bounds("2024-12")
    (datetime.datetime(2024, 12, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))

    Raises ``BillingError`` (a ``MeterhouseError``) for a label that
    ``pipelines.billing.periods.parse_period`` rejects.
    """
    year, month = parse_period(period)
    end_year, end_month = next_month(year, month)
    return datetime(year, month, 1, tzinfo=timezone.utc), datetime(end_year, end_month, 1, tzinfo=timezone.utc)


def _in_period(frame: DataFrame, period: str | None) -> DataFrame:
    # Every layer carries the Kafka record timestamp unchanged, so filtering
    # each side on it keeps a record and its downstream row together.
    if period is None:
        return frame
    start, end = month_bounds(period)
    return frame.where((F.col(C.KAFKA_TIMESTAMP) >= F.lit(start)) & (F.col(C.KAFKA_TIMESTAMP) < F.lit(end)))


def quarantine_tenant() -> Column:
    """Return the tenant a quarantined record is attributed to (see the module docstring)."""
    return F.coalesce(F.col(C.TENANT_ID), F.when(F.col(C.KAFKA_KEY).rlike(SPARK_TENANT_ID_REGEX), F.col(C.KAFKA_KEY)),
                      F.lit(INVALID_TENANT))


def downstream_outcomes(spark: SparkSession, settings: Settings, period: str | None = None) -> DataFrame:
    """Coordinates, tenant and outcome (silver, quarantine, duplicate) of every downstream row.

    With ``period`` (YYYY-MM), only rows whose Kafka record timestamp falls in
    that UTC month.
    """
    silver = _in_period(read_table(spark, settings, Table.SILVER_EVENTS), period).select(
        *COORDINATES, F.col(C.TENANT_ID), F.lit("silver").alias(OUTCOME))
    duplicates = _in_period(read_table(spark, settings, Table.SILVER_DUPLICATES), period).select(
        *COORDINATES, F.col(C.TENANT_ID), F.lit("duplicate").alias(OUTCOME))
    quarantine = _in_period(read_table(spark, settings, Table.SILVER_QUARANTINE), period).select(
        *COORDINATES, quarantine_tenant().alias(C.TENANT_ID), F.lit("quarantine").alias(OUTCOME))
    return silver.unionByName(duplicates).unionByName(quarantine)


def conservation_by_tenant(spark: SparkSession, settings: Settings, period: str | None = None) -> DataFrame:
    """Per tenant: bronze, silver, quarantine, duplicate, unaccounted and multiple counts.

    ``unaccounted`` counts bronze records found in no downstream table;
    ``multiple`` counts bronze records found in more than one row downstream;
    ``not_in_bronze`` counts downstream rows whose coordinates bronze lacks.
    ``balanced`` is true when both are zero and bronze equals the sum.
    ``kafka_records_read`` counts distinct Kafka coordinates in bronze, so it
    is below ``bronze`` only when bronze holds a record twice.

    With ``period`` (YYYY-MM), only records whose Kafka record timestamp falls
    in that UTC month are counted, on every side.
    """
    bronze = _in_period(read_table(spark, settings, Table.BRONZE_EVENTS), period).select(
        *COORDINATES, F.col(C.KAFKA_KEY), F.lit(True).alias("in_bronze"))
    outcomes = downstream_outcomes(spark, settings, period)
    per_record = outcomes.groupBy(*COORDINATES).agg(
        F.count(F.lit(1)).alias("rows"), F.first(C.TENANT_ID).alias(C.TENANT_ID), F.first(OUTCOME).alias(OUTCOME))
    joined = bronze.join(per_record, COORDINATES, "full_outer")
    tenant = F.coalesce(F.col(C.TENANT_ID),
                        F.when(F.col(C.KAFKA_KEY).rlike(SPARK_TENANT_ID_REGEX), F.col(C.KAFKA_KEY)),
                        F.lit(INVALID_TENANT))
    counts = joined.groupBy(tenant.alias(C.TENANT_ID)).agg(
        F.count(F.when(F.col("in_bronze"), 1)).alias("bronze"),
        F.sum(F.when(F.col(OUTCOME) == "silver", F.col("rows")).otherwise(0)).alias("silver"),
        F.sum(F.when(F.col(OUTCOME) == "quarantine", F.col("rows")).otherwise(0)).alias("quarantine"),
        F.sum(F.when(F.col(OUTCOME) == "duplicate", F.col("rows")).otherwise(0)).alias("duplicates"),
        F.count(F.when(F.col("rows").isNull(), 1)).alias("unaccounted"),
        F.count(F.when(F.col("in_bronze").isNull(), 1)).alias("not_in_bronze"),
        F.count(F.when(F.col("rows") > 1, 1)).alias("multiple"),
        F.count_distinct(F.when(F.col("in_bronze"), F.struct(*COORDINATES))).alias("kafka_records_read"),
    )
    balanced = ((F.col("unaccounted") == 0) & (F.col("multiple") == 0) & (F.col("not_in_bronze") == 0)
                & (F.col("bronze") == F.col("silver") + F.col("quarantine") + F.col("duplicates")))
    return counts.withColumn("balanced", balanced).orderBy(C.TENANT_ID)


def conservation_totals(by_tenant: DataFrame) -> ConservationTotals:
    row = by_tenant.agg(*[F.sum(name).alias(name) for name in
                          ("bronze", "silver", "quarantine", "duplicates", "unaccounted", "multiple", "not_in_bronze")]).collect()[0]
    return ConservationTotals(**{name: int(row[name] or 0) for name in row.asDict()})
