"""Read usage totals for service windows from gold and silver at pinned versions.

Each request is a window ``[start, end)`` in UTC for one tenant. Gold rows
belong to a window when their ``window_start`` lies inside it; silver events
when their ``event_time`` does. The reads join every window at once (one
broadcast join per table), so a run over many tenants and time zones reads each
table once.

NOTE: gold.usage_hourly windows are UTC hours, so a billing time zone whose
offset is not a whole number of hours (Asia/Kolkata, +05:30) puts the hour
that straddles the period boundary wholly in the period where it starts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType, TimestampType

from pipelines.billing.rating import MeterUsage
from pipelines.config import Meter, Settings
from pipelines.gold.aggregate import METER_VALUE, meter_readings
from pipelines.schemas import QUANTITY_TYPE
from pipelines.tables import current_version, read_table
from pipelines.vocabulary import Aggregation, Table
from pipelines.vocabulary import Column as C

log = logging.getLogger(__name__)

WINDOW_KEY = "usage_window"
WINDOW_SCHEMA = StructType([
    StructField(WINDOW_KEY, StringType(), False),
    StructField(C.TENANT_ID, StringType(), False),
    StructField("usage_start", TimestampType(), False),
    StructField("usage_end", TimestampType(), False),
])
ZERO = Decimal(0)


@dataclass(frozen=True)
class SourceVersions:
    """Delta versions of the tables usage was read from; None when a table does not exist yet."""

    silver: int | None
    gold: int | None


@dataclass(frozen=True)
class UsageRequest:
    """One tenant's window ``[start, end)`` in UTC, named by ``key``."""

    key: str
    tenant_id: str
    start: datetime
    end: datetime


UsageByWindow = dict[str, dict[str, MeterUsage]]


def pin_versions(spark: SparkSession, settings: Settings) -> SourceVersions:
    """Return the latest versions of silver.usage_events and gold.usage_hourly."""
    return SourceVersions(silver=current_version(spark, settings, Table.SILVER_EVENTS),
                          gold=current_version(spark, settings, Table.GOLD_HOURLY))


def read_usage(
    spark: SparkSession,
    settings: Settings,
    requests: Sequence[UsageRequest],
    versions: SourceVersions,
    meters: Iterable[Meter],
    transaction_meters: Iterable[str] = (),
) -> UsageByWindow:
    """Return ``{request key: {meter: MeterUsage}}`` read at ``versions``.

    SUM, COUNT, MAX and LATEST come from gold.usage_hourly (LATEST: the quantity
    of the row with the greatest ``last_event_time``). UNIQUE_COUNT counts
    distinct values in silver.usage_events, because hourly distinct counts
    cannot be added. ``transaction_meters`` also get their per-event values from
    silver, in (event_time, event_id) order. Windows without usage are absent.
    """
    result: UsageByWindow = {}
    if not requests:
        return result
    meters = list(meters)
    windows = spark.createDataFrame([(r.key, r.tenant_id, r.start, r.end) for r in requests], WINDOW_SCHEMA)
    gold_meters = [meter for meter in meters if meter.aggregation is not Aggregation.UNIQUE_COUNT]
    unique_meters = [meter for meter in meters if meter.aggregation is Aggregation.UNIQUE_COUNT]
    transaction_meters = [meter for meter in meters if meter.name in set(transaction_meters)]

    if versions.gold is not None and gold_meters:
        _collect_gold(_gold_usage(spark, settings, windows, versions.gold, gold_meters), gold_meters, result)
    if versions.silver is not None and unique_meters:
        _collect_unique(_unique_counts(spark, settings, windows, versions.silver, unique_meters), result)
    if versions.silver is not None and transaction_meters:
        _collect_transactions(_transactions(spark, settings, windows, versions.silver, transaction_meters), result)
    return result


def _join_windows(frame: DataFrame, windows: DataFrame, time_column: str) -> DataFrame:
    # The tenant is part of the join key, so a window only ever matches its own tenant's rows.
    condition = ((frame[C.TENANT_ID] == windows[C.TENANT_ID])
                 & (frame[time_column] >= windows["usage_start"])
                 & (frame[time_column] < windows["usage_end"]))
    return frame.join(F.broadcast(windows), condition).drop(windows[C.TENANT_ID])


def _gold_usage(spark, settings, windows, version, meters) -> DataFrame:
    hourly = (read_table(spark, settings, Table.GOLD_HOURLY, version)
              .where(F.col(C.METER).isin([meter.name for meter in meters])))
    return (_join_windows(hourly, windows, C.WINDOW_START)
            .groupBy(WINDOW_KEY, C.METER, C.DIMENSIONS)
            .agg(F.sum(C.QUANTITY).alias("sum_quantity"),
                 F.max(C.QUANTITY).alias("max_quantity"),
                 # Ties on last_event_time fall to the later window, then the larger quantity.
                 F.max_by(C.QUANTITY, F.struct(C.LAST_EVENT_TIME, C.WINDOW_START, C.QUANTITY)).alias("latest_quantity")))


def _collect_gold(frame: DataFrame, meters: Sequence[Meter], result: UsageByWindow) -> None:
    aggregation = {meter.name: meter.aggregation for meter in meters}
    grouped: dict[tuple[str, str], dict[str, Decimal]] = {}
    for row in frame.collect():
        kind = aggregation[row[C.METER]]
        if kind is Aggregation.MAX:
            quantity = row["max_quantity"]
        elif kind is Aggregation.LATEST:
            quantity = row["latest_quantity"]
        else:
            quantity = row["sum_quantity"]
        grouped.setdefault((row[WINDOW_KEY], row[C.METER]), {})[row[C.DIMENSIONS]] = quantity
    for (key, meter), by_dimensions in grouped.items():
        values = list(by_dimensions.values())
        total = max(values) if aggregation[meter] is Aggregation.MAX else sum(values, ZERO)
        result.setdefault(key, {})[meter] = MeterUsage(total=total, by_dimensions=dict(sorted(by_dimensions.items())))


def _meter_events(spark, settings, windows, version, meter: Meter) -> DataFrame:
    # meter_readings builds dimensions exactly as gold does, so the JSON strings match.
    events = read_table(spark, settings, Table.SILVER_EVENTS, version)
    readings = meter_readings(events, [meter]).where(F.col(METER_VALUE).isNotNull())
    return (_join_windows(readings, windows, C.EVENT_TIME)
            .select(WINDOW_KEY, C.METER, C.DIMENSIONS, F.col(METER_VALUE).alias("meter_value"), C.EVENT_TIME, C.EVENT_ID))


def _unique_counts(spark, settings, windows, version, meters) -> DataFrame:
    frames = []
    for meter in meters:
        events = _meter_events(spark, settings, windows, version, meter)
        by_dimensions = events.groupBy(WINDOW_KEY, C.METER, C.DIMENSIONS).agg(
            F.count_distinct("meter_value").alias("quantity"))
        total = events.groupBy(WINDOW_KEY, C.METER).agg(
            F.count_distinct("meter_value").alias("quantity")).withColumn(C.DIMENSIONS, F.lit(None).cast("string"))
        frames.append(by_dimensions.unionByName(total))
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other)
    return frame


def _collect_unique(frame: DataFrame, result: UsageByWindow) -> None:
    totals: dict[tuple[str, str], Decimal] = {}
    groups: dict[tuple[str, str], dict[str, Decimal]] = {}
    for row in frame.collect():
        key = (row[WINDOW_KEY], row[C.METER])
        if row[C.DIMENSIONS] is None:
            totals[key] = Decimal(row["quantity"])
        else:
            groups.setdefault(key, {})[row[C.DIMENSIONS]] = Decimal(row["quantity"])
    for (key, meter), total in totals.items():
        result.setdefault(key, {})[meter] = MeterUsage(total=total, by_dimensions=dict(sorted(groups[(key, meter)].items())))


def _transactions(spark, settings, windows, version, meters) -> DataFrame:
    frames = [_meter_events(spark, settings, windows, version, meter) for meter in meters]
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other)
    return frame.select(WINDOW_KEY, C.METER, C.EVENT_ID,
                        F.unix_micros(C.EVENT_TIME).alias("event_micros"),
                        F.col("meter_value").try_cast(QUANTITY_TYPE).alias("value"))


def _collect_transactions(frame: DataFrame, result: UsageByWindow) -> None:
    values: dict[tuple[str, str], list[tuple[int, str, Decimal]]] = {}
    for row in frame.collect():
        if row["value"] is None:
            log.error("usage window %s meter %s: event %s has a value that is not a decimal; it is left out",
                      row[WINDOW_KEY], row[C.METER], row[C.EVENT_ID])
            continue
        values.setdefault((row[WINDOW_KEY], row[C.METER]), []).append((row["event_micros"], row[C.EVENT_ID], row["value"]))
    for (key, meter), items in values.items():
        items.sort(key=lambda item: (item[0], item[1]))
        transactions = tuple(value for _, _, value in items)
        existing = result.setdefault(key, {}).get(meter)
        if existing is None:
            existing = MeterUsage(total=sum(transactions, ZERO))
        result[key][meter] = MeterUsage(total=existing.total, by_dimensions=existing.by_dimensions,
                                        transactions=transactions)
