"""Replay of the Google cluster trace 2011 ``task_events`` as usage events.

Mapping (the data set README lists the 13 columns):

* Tenant: the trace ``user``, mapped by ``google_user_to_tenant_id``.
* ``cluster.task.submitted``: one event per SUBMIT row (meter tasks_submitted).
* ``cluster.task.reservation``: one event per task run interval, from SCHEDULE
  to the task's next terminal event (EVICT, FAIL, FINISH, KILL or LOST). It
  carries ``cpu_reserved_seconds`` and ``memory_reserved_seconds``: the sum of
  request × seconds over the interval, where UPDATE_RUNNING changes the request
  from its own time on. A task still running when the data ends is counted up
  to the last event time in the data. The whole interval is attributed to the
  event time of its SCHEDULE, so gold puts it in the hour the task started.
* Dimensions: ``priority_band`` (free for priority 0–1, batch 2–8, production
  9–11) and ``scheduling_class``, both taken from the SCHEDULE row.
* Time: trace time 0 maps to 00:00 UTC on the first day of the target month,
  and trace microseconds are added to it exactly. Rows at trace time 0 describe the state
  before the trace window, so those rows all land at 00:00.
* Rounding: products are exact; each event's two quantities are quantized once
  to 12 fractional digits with ROUND_HALF_EVEN, because silver keeps 12.
* Skipped rows: a row without a user, and a SUBMIT, SCHEDULE or UPDATE_RUNNING
  row without a CPU or memory request, are skipped and counted by reason.
  Terminal rows need no request.

Event ids are deterministic (``gct-<YYYYMM>-<job>-<task>-submit-<n>`` and
``...-run-<n>``, where n counts that task's SUBMITs or SCHEDULEs), so replaying
the same month twice publishes exact duplicates that silver drops.
"""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path

from pipelines.load.events import MAX_QUANTITY_SCALE, UsageEvent, format_event_time
from pipelines.load.tenant_ids import google_user_to_tenant_id


GOOGLE_CLUSTER_SOURCE = "/meterhouse/replay/google-clusterdata-2011-2"
SUBMITTED_EVENT_TYPE = "cluster.task.submitted"
RESERVATION_EVENT_TYPE = "cluster.task.reservation"
TASK_EVENT_FILES = ("task_events/part-00000-of-00500.csv.gz", "task_events/part-00001-of-00500.csv.gz")

# task_events columns (0-based) used here.
TIME, JOB_ID, TASK_INDEX, EVENT_TYPE, USER, SCHEDULING_CLASS, PRIORITY, CPU_REQUEST, MEMORY_REQUEST = (
    0, 2, 3, 5, 6, 7, 8, 9, 10)
SUBMIT, SCHEDULE, UPDATE_PENDING, UPDATE_RUNNING = 0, 1, 7, 8
TERMINAL_EVENTS = {2: "EVICT", 3: "FAIL", 4: "FINISH", 5: "KILL", 6: "LOST"}
END_OF_DATA = "END_OF_DATA"

QUANTUM = Decimal(1).scaleb(-MAX_QUANTITY_SCALE)
MICROSECOND = Decimal("0.000001")
# Enough precision that request × seconds and their sums are exact.
EXACT = Context(prec=60)


def priority_band(priority: int) -> str:
    """Return the price tier of a trace priority: free (0–1), batch (2–8), production (9–11)."""
    if 0 <= priority <= 1:
        return "free"
    if 2 <= priority <= 8:
        return "batch"
    if 9 <= priority <= 11:
        return "production"
    raise ValueError(f"trace priority must be 0 to 11, found {priority}")


@dataclass
class _Run:
    tenant_id: str
    started_us: int
    changed_us: int
    cpu_request: Decimal
    memory_request: Decimal
    dimensions: dict[str, str]
    run_number: int
    cpu_seconds: Decimal = Decimal(0)
    memory_seconds: Decimal = Decimal(0)

    def advance(self, time_us: int) -> None:
        seconds = EXACT.multiply(Decimal(time_us - self.changed_us), MICROSECOND)
        self.cpu_seconds = EXACT.add(self.cpu_seconds, EXACT.multiply(self.cpu_request, seconds))
        self.memory_seconds = EXACT.add(self.memory_seconds, EXACT.multiply(self.memory_request, seconds))
        self.changed_us = time_us


@dataclass
class _Task:
    submits: int = 0
    runs: int = 0
    running: _Run | None = None


@dataclass
class GoogleClusterReplay:
    """Events of one replay in publishing order, with counts of skipped and unusual rows.

    Publishing order is the order in which each event becomes known: a
    submission at its row, a reservation at the row that ends it, and the
    still-running tasks after the last row. ``skipped`` counts rows left out by
    reason; ``anomalies`` counts rows that were used but need a second look.
    """

    events: list[UsageEvent] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    anomalies: Counter = field(default_factory=Counter)
    rows: int = 0
    last_time_us: int = 0


def build_google_cluster_events(rows: Iterable[Sequence[str]], target_start: datetime) -> GoogleClusterReplay:
    """Turn ``task_events`` rows (in trace time order) into usage events.

    ``target_start`` is the instant that trace time 0 maps to.
    """
    replay = GoogleClusterReplay()
    tasks: dict[tuple[str, str], _Task] = {}
    id_prefix = f"gct-{target_start:%Y%m}"

    for row in rows:
        replay.rows += 1
        time_us = int(row[TIME])
        replay.last_time_us = max(replay.last_time_us, time_us)
        event_type = int(row[EVENT_TYPE])
        reason = _skip_reason(row, event_type)
        if reason:
            replay.skipped[reason] += 1
            continue

        key = (row[JOB_ID], row[TASK_INDEX])
        task = tasks.setdefault(key, _Task())
        if event_type == SUBMIT:
            task.submits += 1
            replay.events.append(_submitted_event(row, f"{id_prefix}-{key[0]}-{key[1]}-submit-{task.submits}",
                                                  target_start))
        elif event_type == SCHEDULE:
            if task.running is not None:
                # Not seen in the two shards; close the open run rather than lose it.
                replay.anomalies["schedule_while_running"] += 1
                replay.events.append(_reservation_event(task.running, key, time_us, "RESCHEDULE", id_prefix, target_start))
            task.runs += 1
            task.running = _start_run(row, time_us, task.runs)
        elif event_type == UPDATE_RUNNING:
            if task.running is None:
                replay.skipped["update_running_without_run"] += 1
                continue
            task.running.advance(time_us)
            task.running.cpu_request = Decimal(row[CPU_REQUEST])
            task.running.memory_request = Decimal(row[MEMORY_REQUEST])
        elif event_type in TERMINAL_EVENTS and task.running is not None:
            replay.events.append(_reservation_event(task.running, key, time_us, TERMINAL_EVENTS[event_type],
                                                    id_prefix, target_start))
            task.running = None
        elif event_type in TERMINAL_EVENTS:
            # Killed or failed while pending: nothing was reserved.
            replay.anomalies["terminal_without_run"] += 1
        # UPDATE_PENDING changes a request before the next SCHEDULE, which
        # carries its own request, so it needs no handling here.

    still_running = sorted(((task.running.started_us, key) for key, task in tasks.items() if task.running),
                           key=lambda item: (item[0], int(item[1][0]), int(item[1][1])))
    for _, key in still_running:
        run = tasks[key].running
        replay.events.append(_reservation_event(run, key, replay.last_time_us, END_OF_DATA, id_prefix, target_start))
    return replay


def read_task_events(folder: Path) -> Iterator[list[str]]:
    """Yield the rows of both shards in file order, which is trace time order."""
    for name in TASK_EVENT_FILES:
        with gzip.open(folder / name, "rt", newline="", encoding="ascii") as handle:
            yield from csv.reader(handle)


def google_cluster_tenants(folder: Path) -> dict[str, str]:
    """Return tenant id → trace user for every user in both shards, sorted by tenant id."""
    users = {row[USER] for row in read_task_events(folder) if row[USER]}
    return dict(sorted((google_user_to_tenant_id(user), user) for user in users))


def _skip_reason(row: Sequence[str], event_type: int) -> str | None:
    if not row[USER]:
        return "missing_user"
    if event_type in (SUBMIT, SCHEDULE, UPDATE_RUNNING) and not (row[CPU_REQUEST] and row[MEMORY_REQUEST]):
        return "missing_request"
    return None


def _start_run(row: Sequence[str], time_us: int, run_number: int) -> _Run:
    return _Run(
        tenant_id=google_user_to_tenant_id(row[USER]),
        started_us=time_us,
        changed_us=time_us,
        cpu_request=Decimal(row[CPU_REQUEST]),
        memory_request=Decimal(row[MEMORY_REQUEST]),
        dimensions=_dimensions(row),
        run_number=run_number,
    )


def _submitted_event(row: Sequence[str], event_id: str, target_start: datetime) -> UsageEvent:
    data = {**_dimensions(row), "job_id": row[JOB_ID], "task_index": row[TASK_INDEX], "priority": row[PRIORITY]}
    return UsageEvent(google_user_to_tenant_id(row[USER]), event_id, SUBMITTED_EVENT_TYPE,
                      _instant(target_start, int(row[TIME])), data, GOOGLE_CLUSTER_SOURCE)


def _reservation_event(run: _Run, key: tuple[str, str], end_us: int, end_reason: str, id_prefix: str,
                       target_start: datetime) -> UsageEvent:
    run.advance(end_us)
    data = {
        **run.dimensions,
        "cpu_reserved_seconds": run.cpu_seconds.quantize(QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT),
        "memory_reserved_seconds": run.memory_seconds.quantize(QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT),
        "run_seconds": EXACT.multiply(Decimal(end_us - run.started_us), MICROSECOND),
        "run_end": format_event_time(_instant(target_start, end_us)),
        "end_reason": end_reason,
        "job_id": key[0],
        "task_index": key[1],
    }
    return UsageEvent(run.tenant_id, f"{id_prefix}-{key[0]}-{key[1]}-run-{run.run_number}", RESERVATION_EVENT_TYPE,
                      _instant(target_start, run.started_us), data, GOOGLE_CLUSTER_SOURCE)


def _dimensions(row: Sequence[str]) -> dict[str, str]:
    return {"priority_band": priority_band(int(row[PRIORITY])), "scheduling_class": row[SCHEDULING_CLASS]}


def _instant(target_start: datetime, time_us: int) -> datetime:
    return target_start + timedelta(microseconds=time_us)
