"""DataFrames that the suites validate, each read from one pinned table version.

Expectations in great-expectations look at one DataFrame; checks that need a
derived value (an event's lag behind its Kafka timestamp, an invoice's line
sum) get it here as a column, so the suite files stay declarative.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.billing.vocabulary import InvoiceColumn as I
from pipelines.config import Settings
from pipelines.gold.aggregate import METER_VALUE, meter_readings
from pipelines.schemas import QUANTITY_TYPE
from pipelines.tables import read_table
from pipelines.vocabulary import Column as C
from pipelines.vocabulary import Table

EVENT_LAG_SECONDS = "event_lag_seconds"
LINE_AMOUNT_SUM = "line_amount_sum"
LINE_ROWS = "line_rows"
HAS_UNEXPLAINED_NEGATIVE_TOTAL = "has_unexplained_negative_total"


def silver_event_checks(silver: DataFrame) -> DataFrame:
    """Silver events with ``event_lag_seconds``: Kafka timestamp minus event time, in whole seconds."""
    lag = F.unix_seconds(F.col(C.KAFKA_TIMESTAMP)) - F.unix_seconds(F.col(C.EVENT_TIME))
    return silver.select(C.TENANT_ID, C.EVENT_ID, C.EVENT_TIME, C.KAFKA_TIMESTAMP, lag.alias(EVENT_LAG_SECONDS))


def silver_meter_values(silver: DataFrame, settings: Settings) -> DataFrame:
    """One row per silver event and numeric meter, ``quantity`` NULL when not a finite decimal."""
    numeric_meters = [meter for meter in settings.meters if meter.is_numeric]
    if not numeric_meters:
        return silver.sparkSession.createDataFrame(
            [], f"{C.TENANT_ID} string, {C.EVENT_ID} string, {C.METER} string, {C.QUANTITY} decimal(38,12)")
    readings = meter_readings(silver, numeric_meters)
    return readings.select(C.TENANT_ID, C.EVENT_ID, C.METER,
                           F.col(METER_VALUE).try_cast(QUANTITY_TYPE).alias(C.QUANTITY))


def invoice_checks(invoices: DataFrame, lines: DataFrame) -> DataFrame:
    """Invoice headers with the sum and count of their lines (0 and 0 when they have none)."""
    sums = lines.groupBy(I.INVOICE_ID).agg(F.sum(I.AMOUNT).alias(LINE_AMOUNT_SUM),
                                            F.count(F.lit(1)).cast("int").alias(LINE_ROWS))
    joined = invoices.join(sums, I.INVOICE_ID, "left")
    unexplained = (F.col(I.TOTAL) < 0) & (F.coalesce(F.trim(F.col(I.REASON)), F.lit("")) == "")
    return joined.select(
        I.TENANT_ID, I.INVOICE_ID, I.PERIOD, I.DOCUMENT_TYPE, I.STATUS, I.CURRENCY, I.TOTAL, I.LINE_COUNT, I.REASON,
        F.coalesce(F.col(LINE_AMOUNT_SUM), F.lit(0).cast(invoices.schema[I.TOTAL].dataType)).alias(LINE_AMOUNT_SUM),
        F.coalesce(F.col(LINE_ROWS), F.lit(0)).alias(LINE_ROWS),
        unexplained.alias(HAS_UNEXPLAINED_NEGATIVE_TOTAL),
    )


def read_silver_event_checks(spark: SparkSession, settings: Settings, versions: dict[str, int]) -> DataFrame:
    return silver_event_checks(read_table(spark, settings, Table.SILVER_EVENTS, versions[Table.SILVER_EVENTS.value]))


def read_silver_meter_values(spark: SparkSession, settings: Settings, versions: dict[str, int]) -> DataFrame:
    silver = read_table(spark, settings, Table.SILVER_EVENTS, versions[Table.SILVER_EVENTS.value])
    return silver_meter_values(silver, settings)


def read_gold_hourly(spark: SparkSession, settings: Settings, versions: dict[str, int]) -> DataFrame:
    return read_table(spark, settings, Table.GOLD_HOURLY, versions[Table.GOLD_HOURLY.value])


def read_invoice_checks(spark: SparkSession, settings: Settings, versions: dict[str, int]) -> DataFrame:
    invoices = read_table(spark, settings, Table.GOLD_INVOICES, versions[Table.GOLD_INVOICES.value])
    lines = read_table(spark, settings, Table.GOLD_INVOICE_LINES, versions[Table.GOLD_INVOICE_LINES.value])
    return invoice_checks(invoices, lines)
