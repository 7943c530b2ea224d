"""Selecting the silver events of the windows a batch touches, by time ranges Delta can skip files with."""

from datetime import datetime, timezone

import pytest

from pipelines.gold.aggregate import (
    DAY,
    HOUR,
    MAX_TIME_RANGES,
    events_in_windows,
    time_ranges,
    window_starts,
    within_time_ranges,
)
from pipelines.schemas import SILVER_EVENTS

HOUR_MICROS = 3_600_000_000
TEN_O_CLOCK = int(datetime(2026, 11, 15, 10, tzinfo=timezone.utc).timestamp()) * 1_000_000


def test_adjacent_hours_join_into_one_range():
    starts = [TEN_O_CLOCK + HOUR_MICROS, TEN_O_CLOCK, TEN_O_CLOCK + 3 * HOUR_MICROS]

    assert time_ranges(starts, HOUR) == [
        (TEN_O_CLOCK, TEN_O_CLOCK + 2 * HOUR_MICROS),
        (TEN_O_CLOCK + 3 * HOUR_MICROS, TEN_O_CLOCK + 4 * HOUR_MICROS),
    ]


def test_repeated_start_gives_one_range():
    assert time_ranges([TEN_O_CLOCK, TEN_O_CLOCK], DAY) == [(TEN_O_CLOCK, TEN_O_CLOCK + 24 * HOUR_MICROS)]


def test_too_many_ranges_become_one_span():
    starts = [TEN_O_CLOCK + 2 * index * HOUR_MICROS for index in range(MAX_TIME_RANGES + 1)]

    assert time_ranges(starts, HOUR) == [(TEN_O_CLOCK, starts[-1] + HOUR_MICROS)]


def test_as_many_ranges_as_allowed_stay_apart():
    starts = [TEN_O_CLOCK + 2 * index * HOUR_MICROS for index in range(MAX_TIME_RANGES)]

    assert len(time_ranges(starts, HOUR)) == MAX_TIME_RANGES


def test_no_ranges_select_nothing(spark):
    frame = spark.createDataFrame([(datetime(2026, 11, 15, 10),)], "event_time timestamp")

    assert frame.filter(within_time_ranges("event_time", [])).count() == 0


def silver_at(spark, *times, tenant="acme"):
    rows = [(tenant, f"e-{index}", "api.request", "test", time, "{}", "hash", "usage", 0, index, time, time)
            for index, time in enumerate(times)]
    return spark.createDataFrame(rows, SILVER_EVENTS)


def test_window_starts_are_epoch_microseconds(spark):
    keys = spark.createDataFrame([("acme", datetime(2026, 11, 15, 10)), ("b", datetime(2026, 11, 15, 10))],
                                 "tenant_id string, window_start timestamp")

    assert window_starts(keys) == [TEN_O_CLOCK]


@pytest.mark.parametrize("edge", [datetime(2026, 11, 15, 10, 0, 0), datetime(2026, 11, 15, 10, 59, 59, 999999)])
def test_events_in_windows_hour_edges(spark, edge):
    silver = silver_at(spark, edge, datetime(2026, 11, 15, 11, 0, 0), datetime(2026, 11, 15, 9, 59, 59, 999999))
    keys = spark.createDataFrame([("acme", datetime(2026, 11, 15, 10))], "tenant_id string, window_start timestamp")

    selected = events_in_windows(silver, keys, HOUR).collect()

    assert [row["event_time"] for row in selected] == [edge]


def test_windows_match_tenant_and_hour(spark):
    silver = silver_at(spark, datetime(2026, 11, 15, 10, 5), datetime(2026, 11, 15, 12, 5)).unionByName(
        silver_at(spark, datetime(2026, 11, 15, 12, 6), tenant="other"))
    keys = spark.createDataFrame([("acme", datetime(2026, 11, 15, 10)), ("other", datetime(2026, 11, 15, 12))],
                                 "tenant_id string, window_start timestamp")

    selected = sorted((row["tenant_id"], row["event_time"]) for row in events_in_windows(silver, keys, HOUR).collect())

    assert selected == [("acme", datetime(2026, 11, 15, 10, 5)), ("other", datetime(2026, 11, 15, 12, 6))]
