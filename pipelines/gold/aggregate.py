"""Aggregate silver events into per-tenant, per-meter usage windows.

Pure DataFrame transforms: silver rows in, gold rows (``schemas.GOLD_USAGE``)
out. Windows are ``[window_start, window_end)`` in UTC, an hour or a day long.

Aggregations, over the events of one tenant, meter, dimensions and window:
SUM and MAX of the value; COUNT of events; UNIQUE_COUNT of distinct values;
LATEST the value of the event with the greatest (event_time, event_id).
"""

from __future__ import annotations

import operator
from functools import reduce

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.config import Meter
from pipelines.schemas import GOLD_USAGE, QUANTITY_TYPE
from pipelines.silver.values import value_text
from pipelines.vocabulary import Aggregation
from pipelines.vocabulary import Column as C

HOUR = "hour"
DAY = "day"
WINDOW_LENGTHS = {HOUR: "INTERVAL 1 HOUR", DAY: "INTERVAL 1 DAY"}
WINDOW_MICROS = {HOUR: 3_600_000_000, DAY: 86_400_000_000}
# More time ranges than this in one filter are joined into one span: a batch
# with late events from many old windows then reads more files, not a huge
# predicate.
MAX_TIME_RANGES = 32

METER_VALUE = "meter_value"


def meter_readings(silver_events: DataFrame, meters: list[Meter] | tuple[Meter, ...]) -> DataFrame:
    """Expand events into one row per (event, meter reading it): tenant, meter, dimensions, value.

    ``dimensions`` is the JSON object of the meter's group_by fields in
    configuration order, with string values; a field the event lacks is left
    out. ``meter_value`` is the raw JSON text at the meter's value path.
    """
    readings = [_readings_of(silver_events, meter) for meter in meters]
    return reduce(DataFrame.unionByName, readings)


def _readings_of(silver_events: DataFrame, meter: Meter) -> DataFrame:
    data = F.col(C.DATA)
    if meter.group_by:
        fields = []
        for dimension in meter.group_by:
            fields += [F.lit(dimension), F.get_json_object(data, f"$.{dimension}")]
        dimensions = F.to_json(F.named_struct(*fields))
    else:
        dimensions = F.lit("{}")
    value = value_text(C.DATA, meter.value_path) if meter.value_path else F.lit(None).cast("string")
    return silver_events.filter(F.col(C.EVENT_TYPE) == meter.event_type).select(
        C.TENANT_ID,
        F.lit(meter.name).alias(C.METER),
        dimensions.alias(C.DIMENSIONS),
        C.EVENT_TIME,
        C.EVENT_ID,
        value.alias(METER_VALUE),
        F.lit(meter.aggregation.value).alias(C.AGGREGATION),
        F.lit(meter.unit).alias(C.UNIT),
    )


def aggregate_usage(readings: DataFrame, window: str) -> DataFrame:
    """Fold meter readings into one gold row per tenant, meter, dimensions and window."""
    length = WINDOW_LENGTHS[window]
    # try_cast because UNIQUE_COUNT values may be text; silver validation has
    # already rejected every non-decimal value of the numeric meters.
    numeric = F.col(METER_VALUE).try_cast(QUANTITY_TYPE)
    aggregation = F.col(C.AGGREGATION)
    # LATEST orders by (event_time, event_id) so that ties resolve the same way
    # on every run.
    latest = F.max_by(numeric, F.struct(C.EVENT_TIME, C.EVENT_ID))
    quantity = (
        F.when(aggregation == Aggregation.SUM.value, F.sum(numeric))
        .when(aggregation == Aggregation.COUNT.value, F.count(F.lit(1)).cast(QUANTITY_TYPE))
        .when(aggregation == Aggregation.MAX.value, F.max(numeric))
        .when(aggregation == Aggregation.UNIQUE_COUNT.value, F.count_distinct(F.col(METER_VALUE)).cast(QUANTITY_TYPE))
        .when(aggregation == Aggregation.LATEST.value, latest)
    )
    windowed = readings.withColumn(C.WINDOW_START, F.date_trunc(window, C.EVENT_TIME))
    grouped = windowed.groupBy(C.TENANT_ID, C.METER, C.DIMENSIONS, C.WINDOW_START, C.AGGREGATION, C.UNIT).agg(
        quantity.cast(QUANTITY_TYPE).alias(C.QUANTITY),
        F.count(F.lit(1)).alias(C.EVENT_COUNT),
        F.min(C.EVENT_TIME).alias(C.FIRST_EVENT_TIME),
        F.max(C.EVENT_TIME).alias(C.LAST_EVENT_TIME),
    )
    with_end = grouped.withColumn(C.WINDOW_END, F.col(C.WINDOW_START) + F.expr(length))
    return with_end.select([F.col(field.name) for field in GOLD_USAGE.fields])


def window_keys(silver_events: DataFrame, window: str) -> DataFrame:
    """Distinct (tenant_id, window_start) pairs that a batch of events touches."""
    return silver_events.select(C.TENANT_ID, F.date_trunc(window, C.EVENT_TIME).alias(C.WINDOW_START)).distinct()


def events_in_windows(silver: DataFrame, keys: DataFrame, window: str) -> DataFrame:
    """Select the silver events that fall into the given (tenant, window) keys.

    The events are first filtered on ``event_time`` by the keys' time ranges,
    so that Delta skips every file whose event times lie outside them. The
    join alone would read all files of the tenants.
    """
    ranges = time_ranges(window_starts(keys), window)
    with_window = silver.filter(within_time_ranges(C.EVENT_TIME, ranges))
    with_window = with_window.withColumn(C.WINDOW_START, F.date_trunc(window, C.EVENT_TIME))
    return with_window.join(F.broadcast(keys), [C.TENANT_ID, C.WINDOW_START], "left_semi").drop(C.WINDOW_START)


def window_starts(keys: DataFrame) -> list[int]:
    """Return the distinct ``window_start`` values of ``keys``, in microseconds since the epoch."""
    starts = keys.select(F.unix_micros(C.WINDOW_START).alias("start")).distinct().collect()
    return sorted(row["start"] for row in starts)


def time_ranges(starts: list[int], window: str) -> list[tuple[int, int]]:
    """Join windows beginning at ``starts`` into [start, end) ranges, adjacent windows into one.

    Returns at most ``MAX_TIME_RANGES`` ranges. Past that, it returns one range
    from the first start to the last end.
    """
    length = WINDOW_MICROS[window]
    ranges: list[tuple[int, int]] = []
    for start in sorted(starts):
        if ranges and start <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], start + length))
        else:
            ranges.append((start, start + length))
    if len(ranges) > MAX_TIME_RANGES:
        return [(ranges[0][0], ranges[-1][1])]
    return ranges


def within_time_ranges(column: str, ranges: list[tuple[int, int]]) -> SparkColumn:
    """Return the condition that ``column`` lies in one of ``ranges`` (microseconds since the epoch).

    With no ranges the condition is false.
    """
    conditions = [(F.col(column) >= F.timestamp_micros(F.lit(start))) & (F.col(column) < F.timestamp_micros(F.lit(end)))
                  for start, end in ranges]
    return reduce(operator.or_, conditions) if conditions else F.lit(False)


def hours_in_days(hourly: DataFrame, day_keys: DataFrame) -> DataFrame:
    """Select the hourly gold rows whose hour lies in one of the given (tenant, day) keys."""
    with_day = hourly.withColumn("_day", F.date_trunc(DAY, C.WINDOW_START))
    keys = day_keys.withColumnRenamed(C.WINDOW_START, "_day")
    return with_day.join(F.broadcast(keys), [C.TENANT_ID, "_day"], "left_semi").drop("_day")


def roll_up_days(hourly: DataFrame) -> DataFrame:
    """Fold hourly gold rows into daily ones for every aggregation that hours determine exactly.

    SUM and COUNT add up, MAX takes the greatest hour, and LATEST takes the
    latest hour, because the day's latest event lies in the latest hour that
    has events. UNIQUE_COUNT rows are dropped: distinct values do not add up
    across hours, so the caller aggregates those meters from silver.
    """
    aggregation = F.col(C.AGGREGATION)
    quantity = (
        F.when(aggregation.isin(Aggregation.SUM.value, Aggregation.COUNT.value), F.sum(C.QUANTITY))
        .when(aggregation == Aggregation.MAX.value, F.max(C.QUANTITY))
        .when(aggregation == Aggregation.LATEST.value, F.max_by(C.QUANTITY, C.WINDOW_START))
    )
    derivable = hourly.filter(aggregation != Aggregation.UNIQUE_COUNT.value)
    # The hour's own window_start must survive the grouping, since LATEST orders by it.
    days = derivable.withColumn("_day", F.date_trunc(DAY, C.WINDOW_START))
    grouped = days.groupBy(C.TENANT_ID, C.METER, C.DIMENSIONS, "_day", C.AGGREGATION, C.UNIT).agg(
        quantity.cast(QUANTITY_TYPE).alias(C.QUANTITY),
        F.sum(C.EVENT_COUNT).cast("long").alias(C.EVENT_COUNT),
        F.min(C.FIRST_EVENT_TIME).alias(C.FIRST_EVENT_TIME),
        F.max(C.LAST_EVENT_TIME).alias(C.LAST_EVENT_TIME),
    )
    with_start = grouped.withColumnRenamed("_day", C.WINDOW_START)
    with_end = with_start.withColumn(C.WINDOW_END, F.col(C.WINDOW_START) + F.expr(WINDOW_LENGTHS[DAY]))
    return with_end.select([F.col(field.name) for field in GOLD_USAGE.fields])

