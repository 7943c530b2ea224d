"""Silver to ``gold.usage_hourly`` and ``gold.usage_daily``.

Each micro-batch of new silver rows names the (tenant, hour) and (tenant, day)
windows it touches. The hours are recomputed from the whole of silver and
MERGEd into gold (update when present, insert otherwise). The days are then
rolled up from those tenants' hourly rows, except for UNIQUE_COUNT meters,
whose days are recomputed from silver because distinct values do not add up
across hours. Recomputing instead of adding makes the sink idempotent: a batch
replayed after a crash writes the same rows again, and a late event updates
the hour and day it belongs to. UNIQUE_COUNT and LATEST also stay exact, which
adding partial results could not give. Rolling days up from hours keeps a
batch's cost from growing with the number of events already in the day,
except for UNIQUE_COUNT meters.
"""

from __future__ import annotations

import logging
import operator
import time
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from pipelines.config import Settings
from pipelines.triggers import with_trigger
from pipelines.gold.aggregate import (
    DAY,
    HOUR,
    aggregate_usage,
    events_in_windows,
    hours_in_days,
    meter_readings,
    roll_up_days,
    time_ranges,
    window_keys,
    window_starts,
    within_time_ranges,
)
from pipelines.schemas import GOLD_USAGE
from pipelines.tables import (
    checkpoint_path,
    delta_table,
    ensure_table,
    read_table,
    require_tables_of_checkpoint,
    require_upstream_table,
    table_path,
)
from pipelines.vocabulary import Column as C
from pipelines.vocabulary import Aggregation, Table

log = logging.getLogger(__name__)

QUERY_NAME = "gold_usage"
GOLD_TABLES = {HOUR: Table.GOLD_HOURLY, DAY: Table.GOLD_DAILY}
GOLD_KEY = (C.TENANT_ID, C.METER, C.DIMENSIONS, C.WINDOW_START)


def create_gold_tables(spark: SparkSession, settings: Settings) -> None:
    for table in GOLD_TABLES.values():
        ensure_table(spark, settings, table, GOLD_USAGE, partition_by=(C.TENANT_ID,))


def start_gold_stream(spark: SparkSession, settings: Settings, run_once: bool) -> StreamingQuery:
    """Start the silver-to-gold query (``availableNow`` when ``run_once``)."""
    require_upstream_table(spark, settings, Table.SILVER_EVENTS, "gold")
    require_tables_of_checkpoint(spark, settings, QUERY_NAME, tuple(GOLD_TABLES.values()))
    create_gold_tables(spark, settings)

    silver = (
        spark.readStream.format("delta")
        # Silver only ever gains rows; maintenance commits (OPTIMIZE) carry no
        # data change and are skipped by the Delta source on their own.
        .option("skipChangeCommits", "true")
        .load(table_path(settings, Table.SILVER_EVENTS))
    )
    writer = (
        silver.writeStream.queryName(QUERY_NAME)
        .foreachBatch(lambda batch, batch_id: process_silver_batch(batch, batch_id, settings))
        .option("checkpointLocation", checkpoint_path(settings, QUERY_NAME))
    )
    writer = with_trigger(writer, settings, run_once)
    return writer.start()


def process_silver_batch(silver_batch: DataFrame, batch_id: int, settings: Settings) -> None:
    """Recompute every hourly and daily window that the batch's events touch."""
    started = time.monotonic()
    spark = silver_batch.sparkSession
    batch = silver_batch.select(C.TENANT_ID, C.EVENT_TIME).persist()
    try:
        tenants = [row[0] for row in batch.select(C.TENANT_ID).distinct().collect()]
        if not tenants:
            return
        silver = read_table(spark, settings, Table.SILVER_EVENTS).filter(F.col(C.TENANT_ID).isin(tenants))
        upsert_hours(spark, settings, events_in_windows(silver, window_keys(batch, HOUR), HOUR), tenants)

        # Read after the hourly MERGE, so the roll-up includes this batch's hours.
        hourly = read_table(spark, settings, Table.GOLD_HOURLY).filter(F.col(C.TENANT_ID).isin(tenants))
        days = daily_usage(silver, hourly, window_keys(batch, DAY), settings)
        upsert_usage(spark, settings, days, Table.GOLD_DAILY, tenants)
    finally:
        batch.unpersist()
    log.info("gold batch %s: recomputed windows of %d tenants in %.1fs", batch_id, len(tenants), time.monotonic() - started)


def upsert_hours(spark: SparkSession, settings: Settings, events: DataFrame, tenants: list[str]) -> None:
    """Aggregate the events of the touched hours into hourly rows and MERGE them into gold."""
    # Every meter reads the same events: cached, silver is scanned once, not once per meter.
    events = events.persist()
    try:
        upsert_usage(spark, settings, aggregate_usage(meter_readings(events, settings.meters), HOUR),
                     Table.GOLD_HOURLY, tenants)
    finally:
        events.unpersist()


def daily_usage(silver: DataFrame, hourly: DataFrame, day_keys: DataFrame, settings: Settings) -> DataFrame:
    """Return the gold rows of the given (tenant, day) keys: rolled up from hours, UNIQUE_COUNT from silver."""
    # NOTE: an hour that no batch has recomputed since a meter's definition
    # changed still contains the old definition's row. Only rows of the
    # current definitions are rolled up, so such a day covers the recomputed
    # hours alone until gold is rebuilt from silver (remove both gold tables
    # and the gold_usage checkpoint, then run the gold stream).
    current = [(F.col(C.METER) == meter.name) & (F.col(C.AGGREGATION) == meter.aggregation.value)
               & (F.col(C.UNIT) == meter.unit) for meter in settings.meters]
    # The ranges on window_start let Delta skip files of other days by their statistics.
    in_range = within_time_ranges(C.WINDOW_START, time_ranges(window_starts(day_keys), DAY))
    days = roll_up_days(hours_in_days(hourly.filter(in_range & reduce(operator.or_, current)), day_keys))
    distinct_meters = [meter for meter in settings.meters if meter.aggregation is Aggregation.UNIQUE_COUNT]
    if not distinct_meters:
        return days
    distinct = aggregate_usage(meter_readings(events_in_windows(silver, day_keys, DAY), distinct_meters), DAY)
    return days.unionByName(distinct)


def upsert_usage(spark: SparkSession, settings: Settings, usage: DataFrame, table: Table, tenants: list[str]) -> None:
    """MERGE ``usage`` into ``table`` on the gold key: update rows present, insert the others."""
    tenant_list = ", ".join("'" + tenant.replace("'", "''") + "'" for tenant in tenants)
    condition = f"t.{C.TENANT_ID} IN ({tenant_list}) AND " + " AND ".join(f"t.{key} = s.{key}" for key in GOLD_KEY)
    (
        delta_table(spark, settings, table).alias("t")
        .merge(usage.alias("s"), condition)
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
