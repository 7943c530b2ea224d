"""Gold aggregation: every aggregation exact, late events recompute their hour."""

from datetime import datetime
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import functions as F

from pipelines.gold.aggregate import DAY, HOUR, aggregate_usage, meter_readings
from pipelines.gold.stream import create_gold_tables, process_silver_batch
from pipelines.schemas import GOLD_USAGE, SILVER_EVENTS
from pipelines.silver.stream import create_silver_tables
from pipelines.tables import read_table, table_path
from pipelines.vocabulary import Table

T0 = datetime(2026, 11, 15, 10, 0, 0)


def silver_event(event_id, event_type, data, minute, tenant="acme", offset=0):
    time = T0.replace(minute=minute)
    return (tenant, event_id, event_type, "test", time, data, "hash", "usage", 0, offset, time, time)


def silver_frame(spark, rows):
    return spark.createDataFrame(rows, SILVER_EVENTS)


def expected_row(meter, dimensions, aggregation, quantity, count, first, last, unit):
    end = T0.replace(hour=11)
    return ("acme", meter, dimensions, T0, end, aggregation, Decimal(quantity), count,
            T0.replace(minute=first), T0.replace(minute=last), unit)


def test_each_aggregation_is_exact(spark, settings):
    events = silver_frame(spark, [
        silver_event("a", "compute.usage", '{"instance_type":"m5","cpu_seconds":"1.25","concurrency":3,"user_id":"u1"}', 1),
        silver_event("b", "compute.usage", '{"instance_type":"m5","cpu_seconds":"0.000000000001","concurrency":7,"user_id":"u2"}', 2),
        silver_event("c", "compute.usage", '{"instance_type":"m5","cpu_seconds":2,"concurrency":5,"user_id":"u1"}', 3),
        silver_event("d", "storage.snapshot", '{"stored_gb":"10.5"}', 59),
        silver_event("e", "storage.snapshot", '{"stored_gb":"7"}', 59),
    ])

    usage = aggregate_usage(meter_readings(events, settings.meters), HOUR)

    expected = spark.createDataFrame([
        expected_row("active_users", "{}", "UNIQUE_COUNT", "2", 3, 1, 3, "user"),
        expected_row("compute_seconds", '{"instance_type":"m5"}', "SUM", "3.250000000001", 3, 1, 3, "cpu-second"),
        expected_row("peak_concurrency", "{}", "MAX", "7", 3, 1, 3, "session"),
        # Two snapshots at the same instant: the greater event id ("e") wins.
        expected_row("storage_gb", "{}", "LATEST", "7", 2, 59, 59, "GB"),
    ], GOLD_USAGE)
    assert_df_equality(usage, expected, ignore_row_order=True, ignore_nullable=True)


def test_count_meter_groups_by_dimensions(spark, settings):
    events = silver_frame(spark, [
        silver_event("a", "api.request", '{"region":"eu","bytes_out":1}', 1),
        silver_event("b", "api.request", '{"region":"us","bytes_out":2}', 2),
        silver_event("c", "api.request", '{"region":"eu","bytes_out":3}', 3),
        silver_event("d", "api.request", '{"bytes_out":4}', 4),
    ])

    usage = aggregate_usage(meter_readings(events, settings.meters), HOUR).filter(F.col("meter") == "api_requests")

    rows = sorted((row["dimensions"], row["quantity"]) for row in usage.collect())
    assert rows == [('{"region":"eu"}', Decimal("2")), ('{"region":"us"}', Decimal("1")), ("{}", Decimal("1"))]


def test_late_event_updates_its_hour(spark, settings):
    create_silver_tables(spark, settings)
    create_gold_tables(spark, settings)
    on_time = silver_frame(spark, [silver_event("a", "api.request", '{"region":"eu","bytes_out":"10"}', 5, offset=0)])
    late = silver_frame(spark, [silver_event("b", "api.request", '{"region":"eu","bytes_out":"2.5"}', 6, offset=1)])
    silver_path = table_path(settings, Table.SILVER_EVENTS)

    on_time.write.format("delta").mode("append").save(silver_path)
    process_silver_batch(on_time, 0, settings)
    late.write.format("delta").mode("append").save(silver_path)
    process_silver_batch(late, 1, settings)
    process_silver_batch(late, 1, settings)

    hourly = read_table(spark, settings, Table.GOLD_HOURLY).filter(F.col("meter") == "egress_bytes").collect()
    assert [(row["quantity"], row["event_count"]) for row in hourly] == [(Decimal("12.5"), 2)]
    daily = read_table(spark, settings, Table.GOLD_DAILY).filter(F.col("meter") == "egress_bytes").collect()
    assert [(row["window_start"], row["quantity"]) for row in daily] == [(datetime(2026, 11, 15), Decimal("12.5"))]


def at(hour, minute):
    return T0.replace(hour=hour, minute=minute)


def event_at(event_id, event_type, data, hour, minute, offset):
    time = at(hour, minute)
    return ("acme", event_id, event_type, "test", time, data, "hash", "usage", 0, offset, time, time)


def test_daily_roll_up_equals_day_from_events(spark, settings):
    create_silver_tables(spark, settings)
    create_gold_tables(spark, settings)
    silver_path = table_path(settings, Table.SILVER_EVENTS)
    batches = [
        [event_at("a", "compute.usage", '{"instance_type":"m5","cpu_seconds":"1.000000000001","concurrency":3,"user_id":"u1"}', 9, 5, 0),
         event_at("s1", "storage.snapshot", '{"stored_gb":"10.5"}', 9, 59, 1),
         event_at("r1", "api.request", '{"region":"eu","bytes_out":"7"}', 9, 10, 2)],
        [event_at("b", "compute.usage", '{"instance_type":"m5","cpu_seconds":"2.5","concurrency":9,"user_id":"u2"}', 14, 0, 3),
         event_at("c", "compute.usage", '{"instance_type":"c6","cpu_seconds":"0.25","concurrency":1,"user_id":"u1"}', 14, 30, 4),
         # The day's LATEST snapshot is in the later hour even though its id sorts first.
         event_at("0", "storage.snapshot", '{"stored_gb":"3"}', 14, 1, 5)],
        # A late event for the first hour, after the later hour was written.
        [event_at("d", "compute.usage", '{"instance_type":"m5","cpu_seconds":"4","concurrency":12,"user_id":"u3"}', 9, 30, 6),
         event_at("r2", "api.request", '{"region":"eu","bytes_out":"1"}', 9, 11, 7)],
    ]

    written = []
    for batch_id, rows in enumerate(batches):
        frame = silver_frame(spark, rows)
        frame.write.format("delta").mode("append").save(silver_path)
        process_silver_batch(frame, batch_id, settings)
        written += rows

    from_events = aggregate_usage(meter_readings(silver_frame(spark, written), settings.meters), DAY)
    daily = read_table(spark, settings, Table.GOLD_DAILY)
    assert_df_equality(daily, from_events, ignore_row_order=True, ignore_nullable=True)

    quantities = {row["meter"]: row["quantity"] for row in daily.filter(F.col("dimensions") != '{"instance_type":"c6"}').collect()}
    assert quantities["compute_seconds"] == Decimal("7.500000000001")
    assert quantities["peak_concurrency"] == Decimal("12")
    assert quantities["active_users"] == Decimal("3")
    assert quantities["storage_gb"] == Decimal("3")
    assert quantities["api_requests"] == Decimal("2")


def test_daily_roll_up_skips_stale_meter_rows(spark, settings):
    create_silver_tables(spark, settings)
    create_gold_tables(spark, settings)
    # An hour written under an older definition of compute_seconds (another unit).
    stale = spark.createDataFrame([
        ("acme", "compute_seconds", '{"instance_type":"m5"}', at(3, 0), at(4, 0), "SUM", Decimal("99"), 1,
         at(3, 1), at(3, 1), "core-second"),
    ], GOLD_USAGE)
    stale.write.format("delta").mode("append").save(table_path(settings, Table.GOLD_HOURLY))
    frame = silver_frame(spark, [event_at("a", "compute.usage",
                                          '{"instance_type":"m5","cpu_seconds":"1.5","concurrency":1,"user_id":"u1"}', 9, 5, 0)])
    frame.write.format("delta").mode("append").save(table_path(settings, Table.SILVER_EVENTS))

    process_silver_batch(frame, 0, settings)

    daily = read_table(spark, settings, Table.GOLD_DAILY).filter(F.col("meter") == "compute_seconds").collect()
    assert [(row["quantity"], row["unit"], row["event_count"]) for row in daily] == [(Decimal("1.5"), "cpu-second", 1)]
