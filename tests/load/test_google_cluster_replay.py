"""Google cluster trace replay on a tiny inline trace, quantities checked exactly."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from pipelines.load.google_cluster import build_google_cluster_events, priority_band

USER = "70s3v5qRyCO/1PCdI6fVXnrW8FU/w+5CKRSa72xgcIo="
TENANT = "gc-70s3v5qRyCO_1PCdI6fVXnrW8FU_w-5CKRSa72xgcIo"
NOVEMBER = datetime(2024, 11, 1, tzinfo=timezone.utc)
SUBMIT, SCHEDULE, EVICT, FINISH, KILL, UPDATE_RUNNING = 0, 1, 2, 4, 5, 8


def task_event(time_us, job, task, event_type, priority="9", cpu="0.125", memory="0.0625", user=USER):
    # The 13 task_events columns; machine, disk and the constraint flag are unused.
    return [str(time_us), "", str(job), str(task), "", str(event_type), user, "1", priority, cpu, memory, "", "0"]


TRACE = [
    task_event(0, 1, 0, SUBMIT),
    task_event(0, 3, 1, SCHEDULE, priority="11", cpu="0.0001", memory="0.00003"),
    task_event(10, 5, 0, SCHEDULE, priority="4", cpu="0.1234567", memory="0.0000005"),
    task_event(11, 5, 0, FINISH, priority="4", cpu="0.1234567", memory="0.0000005"),
    task_event(600_000_000, 1, 0, SCHEDULE),
    task_event(600_000_000, 2, 0, SUBMIT, priority="0", cpu="0.5", memory="0.25"),
    task_event(600_000_000, 2, 0, SCHEDULE, priority="0", cpu="0.5", memory="0.25"),
    task_event(1_000_000_001, 3, 1, EVICT, priority="11", cpu="0.0001", memory="0.00003"),
    task_event(1_200_000_000, 2, 0, UPDATE_RUNNING, priority="0", cpu="0.25", memory="0.5"),
    task_event(2_000_000_000, 3, 1, SCHEDULE, priority="11", cpu="0.0001", memory="0.00003"),
    task_event(2_400_000_000, 2, 0, KILL, priority="0", cpu="0.25", memory="0.5"),
    task_event(4_200_000_000, 1, 0, FINISH),
    task_event(5_000_000_000, 4, 0, SUBMIT, cpu="", memory=""),
]


def summarize(event):
    data = event.data
    return (event.event_type, event.event_id, event.time, data.get("priority_band"),
            data.get("cpu_reserved_seconds"), data.get("memory_reserved_seconds"), data.get("end_reason"))


def test_replay_builds_events_in_publishing_order():
    replay = build_google_cluster_events(TRACE, NOVEMBER)

    assert [summarize(event) for event in replay.events] == [
        ("cluster.task.submitted", "gct-202411-1-0-submit-1", datetime(2024, 11, 1, tzinfo=timezone.utc),
         "production", None, None, None),
        # 1 µs at 0.1234567 CPU is 0.0000001234567, rounded half-even to 12 digits;
        # 0.5e-12 memory-seconds round to the even 0.
        ("cluster.task.reservation", "gct-202411-5-0-run-1", datetime(2024, 11, 1, 0, 0, 0, 10, tzinfo=timezone.utc),
         "batch", Decimal("0.000000123457"), Decimal("0.000000000000"), "FINISH"),
        ("cluster.task.submitted", "gct-202411-2-0-submit-1", datetime(2024, 11, 1, 0, 10, tzinfo=timezone.utc),
         "free", None, None, None),
        # Evicted after 1000.000001 s.
        ("cluster.task.reservation", "gct-202411-3-1-run-1", datetime(2024, 11, 1, tzinfo=timezone.utc),
         "production", Decimal("0.100000000100"), Decimal("0.030000000030"), "EVICT"),
        # 600 s at 0.5 / 0.25, then 1200 s at 0.25 / 0.5 after UPDATE_RUNNING.
        ("cluster.task.reservation", "gct-202411-2-0-run-1", datetime(2024, 11, 1, 0, 10, tzinfo=timezone.utc),
         "free", Decimal("600.000000000000"), Decimal("750.000000000000"), "KILL"),
        # SCHEDULE to FINISH: 3600 s at 0.125 / 0.0625.
        ("cluster.task.reservation", "gct-202411-1-0-run-1", datetime(2024, 11, 1, 0, 10, tzinfo=timezone.utc),
         "production", Decimal("450.000000000000"), Decimal("225.000000000000"), "FINISH"),
        # Re-scheduled after the eviction and still running: counted to the last
        # event time of the data (5000 s), which is a skipped row's time.
        ("cluster.task.reservation", "gct-202411-3-1-run-2", datetime(2024, 11, 1, 0, 33, 20, tzinfo=timezone.utc),
         "production", Decimal("0.300000000000"), Decimal("0.090000000000"), "END_OF_DATA"),
    ]


def test_replay_counts_skipped_rows():
    replay = build_google_cluster_events(TRACE, NOVEMBER)

    assert replay.rows == 13
    assert dict(replay.skipped) == {"missing_request": 1}
    assert replay.last_time_us == 5_000_000_000


def test_replay_event_carries_tenant_and_dimensions():
    replay = build_google_cluster_events(TRACE, NOVEMBER)

    event = replay.events[-1]

    assert event.tenant_id == TENANT
    assert event.data["scheduling_class"] == "1"
    assert event.data["run_end"] == "2024-11-01T01:23:20Z"
    assert event.data["run_seconds"] == Decimal("3000")


def test_replay_twice_gives_identical_events():
    first = build_google_cluster_events(TRACE, NOVEMBER)

    second = build_google_cluster_events(TRACE, NOVEMBER)

    assert first.events == second.events


@pytest.mark.parametrize(("priority", "band"), [(0, "free"), (1, "free"), (2, "batch"), (8, "batch"),
                                                (9, "production"), (11, "production")])
def test_priority_band_edges(priority, band):
    assert priority_band(priority) == band


def test_priority_band_rejects_unknown_priority():
    with pytest.raises(ValueError, match="0 to 11, found 12"):
        priority_band(12)
