"""Synthetic SaaS load: tenants sending API, compute and storage events.

Event time is compressed: ``rate`` is events per tenant per second of event
time, and records come out as fast as the caller consumes them (the publisher
paces them by wall clock only with ``--realtime``). Each tenant draws its own
rate uniformly within ±20% of ``rate`` and sends a Poisson stream at that rate.

The output is deterministic: the same ``LoadProfile`` gives the same records
byte for byte, so re-publishing a load only adds duplicates that silver drops.
Any change to the profile changes every event id, so two different loads never
share an id.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pipelines.config import Meter
from pipelines.load.errors import LoadError
from pipelines.load.events import KafkaRecord, UsageEvent, encode_event
from pipelines.load.ground_truth import UsageTotal, UsageTotals
from pipelines.load.malformed import EXPECTED_REASON, MalformedKind, build_malformed_record

GENERATOR_SOURCE = "/meterhouse/load/generate"
SYNTHETIC_TENANT_COUNT = 1000
SYNTHETIC_PLAN = "saas-standard"
RATE_SPREAD = 0.2
# Upper bounds that keep every load finite. The benchmarks use 10 events per
# tenant per second for at most 31 days of event time and 18 million events.
MAX_RATE = 10_000.0
MAX_DURATION_SECONDS = 366 * 24 * 3600
# An estimated week of generation: docs/data-sets.md measured about 1,700 records/s in Python.
MAX_EXPECTED_EVENTS = 1_000_000_000
# A late event's time lies this far before the stream position, so it always
# falls in an earlier hour than the events published around it.
LATE_DELAY_RANGE_SECONDS = (3600, 6 * 3600)
# A duplicate is re-delivered after this many further records.
DUPLICATE_DELAY_RANGE_RECORDS = (1, 500)

REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")
INSTANCE_TYPES = ("m5.large", "c6g.xlarge", "r6i.2xlarge")
USERS_PER_TENANT = 50
EVENT_TYPE_WEIGHTS = {"api.request": 6, "compute.usage": 3, "storage.snapshot": 1}


def synthetic_tenant_id(number: int) -> str:
    """Return the id of synthetic tenant ``number`` (1-based): ``tenant-0001``."""
    return f"tenant-{number:04d}"


@dataclass(frozen=True)
class LoadProfile:
    """Options of one synthetic load. Ratios are fractions of the base events, in [0, 1)."""

    tenants: int
    rate: float
    duration_seconds: int
    start: datetime
    duplicate_ratio: float = 0.02
    late_ratio: float = 0.01
    malformed_ratio: float = 0.005
    seed: int = 7
    max_quantity: Decimal = Decimal("1000000000000")

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_seconds)

    def tenant_ids(self) -> list[str]:
        return [synthetic_tenant_id(number) for number in range(1, self.tenants + 1)]

    def validate(self) -> None:
        """Raise ``LoadError`` listing every invalid option."""
        problems = []
        if not 1 <= self.tenants <= SYNTHETIC_TENANT_COUNT:
            problems.append(f"--tenants must be between 1 and {SYNTHETIC_TENANT_COUNT} "
                            f"(the synthetic tenant list), found {self.tenants}")
        rate_problem = _rate_problem(self.rate)
        duration_problem = _duration_problem(self.duration_seconds)
        problems.extend(problem for problem in (rate_problem, duration_problem) if problem)
        if self.start.tzinfo is None:
            problems.append(f"--start must carry a UTC offset, found {self.start.isoformat()}")
        if not duration_problem and not self._fits_datetime_range():
            problems.append(f"--start {self.start.isoformat()} with --duration {self.duration_seconds} gives event "
                            f"times outside the years 1 to 9999, counting late events up to "
                            f"{LATE_DELAY_RANGE_SECONDS[1]} s earlier")
        if not rate_problem and not duration_problem and 1 <= self.tenants <= SYNTHETIC_TENANT_COUNT:
            expected = self.tenants * self.rate * self.duration_seconds
            if expected > MAX_EXPECTED_EVENTS:
                problems.append(f"--tenants × --rate × --duration expects about {expected:.3g} events, more than "
                                f"the limit of {MAX_EXPECTED_EVENTS:,}; lower --rate or --duration")
        for option, ratio in (("--duplicates", self.duplicate_ratio), ("--late", self.late_ratio),
                              ("--malformed", self.malformed_ratio)):
            if not 0 <= ratio < 1:
                problems.append(f"{option} must be a fraction in [0, 1), found {ratio}")
        if problems:
            raise LoadError("invalid load profile: " + "; ".join(problems))

    def _fits_datetime_range(self) -> bool:
        try:
            self.start - timedelta(seconds=LATE_DELAY_RANGE_SECONDS[1])
            self.start + timedelta(seconds=self.duration_seconds)
        except OverflowError:
            return False
        return True

    def seed_material(self) -> str:
        return "|".join(str(part) for part in (
            "meterhouse-generate", self.seed, self.start.isoformat(), self.tenants, self.rate, self.duration_seconds,
            self.duplicate_ratio, self.late_ratio, self.malformed_ratio))


def _rate_problem(rate: float) -> str | None:
    # isfinite is False for NaN and both infinities.
    if not (math.isfinite(rate) and 0 < rate <= MAX_RATE):
        return (f"--rate must be a positive number of events per tenant per second, finite and at most {MAX_RATE:g}, "
                f"found {rate}")
    return None


def _duration_problem(duration_seconds: int) -> str | None:
    if not 0 < duration_seconds <= MAX_DURATION_SECONDS:
        return (f"--duration must be a positive number of seconds, at most {MAX_DURATION_SECONDS} (366 days), "
                f"found {duration_seconds}")
    return None


@dataclass
class LoadSummary:
    """Counts of one generated load, written next to the ground truth."""

    records: int = 0
    events: int = 0
    late_events: int = 0
    duplicates: int = 0
    malformed_by_kind: Counter = field(default_factory=Counter)

    @property
    def malformed(self) -> int:
        return sum(self.malformed_by_kind.values())

    def malformed_by_reason(self) -> dict[str, int]:
        reasons: Counter = Counter()
        for kind, count in self.malformed_by_kind.items():
            reasons[EXPECTED_REASON[kind].value] += count
        return dict(sorted(reasons.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "events": self.events,
            "late_events": self.late_events,
            "duplicates": self.duplicates,
            "malformed": self.malformed,
            "malformed_by_reason": self.malformed_by_reason(),
            "malformed_by_kind": {kind.value: count for kind, count in sorted(self.malformed_by_kind.items())},
        }


@dataclass(frozen=True)
class GeneratedLoad:
    """A whole load in memory: the records in publishing order and what gold should hold."""

    records: list[KafkaRecord]
    totals: list[UsageTotal]
    summary: LoadSummary


class LoadGenerator:
    """Stream the records of one profile while accumulating the expected totals.

    ``totals`` and ``summary`` are complete once ``records()`` is exhausted.
    """

    def __init__(self, profile: LoadProfile, meters: tuple[Meter, ...] | list[Meter]):
        profile.validate()
        self.profile = profile
        self.totals = UsageTotals(meters)
        self.summary = LoadSummary()
        self._rng = random.Random(profile.seed_material())
        self._malformed_kinds = list(MalformedKind)

    def records(self) -> Iterator[KafkaRecord]:
        rng = self._rng
        tenant_ids = self.profile.tenant_ids()
        rates = [self.profile.rate * rng.uniform(1 - RATE_SPREAD, 1 + RATE_SPREAD) for _ in tenant_ids]
        arrivals = [(rng.expovariate(rate), index) for index, rate in enumerate(rates)]
        heapq.heapify(arrivals)
        redeliveries: list[tuple[int, int, KafkaRecord]] = []

        while arrivals:
            position, index = heapq.heappop(arrivals)
            if position >= self.profile.duration_seconds:
                continue
            heapq.heappush(arrivals, (position + rng.expovariate(rates[index]), index))
            moment = self._moment(position)
            for item in self._records_at(tenant_ids[index], moment, position):
                yield from self._emit(item, redeliveries)
            yield from self._due_redeliveries(redeliveries, position, final=False)

        yield from self._due_redeliveries(redeliveries, float(self.profile.duration_seconds), final=True)

    def _records_at(self, tenant_id: str, moment: datetime, position: float) -> Iterator[tuple[KafkaRecord, bool]]:
        """Yield (record, may_be_duplicated) for one arrival of one tenant."""
        rng = self._rng
        if rng.random() < self.profile.malformed_ratio:
            kind = rng.choice(self._malformed_kinds)
            key, value = build_malformed_record(kind, rng, tenant_id, self._event_id(), moment,
                                                GENERATOR_SOURCE, self.profile.max_quantity)
            self.summary.malformed_by_kind[kind] += 1
            yield KafkaRecord(key, value, position), False
        else:
            yield self._valid_record(tenant_id, moment, position), True

        if rng.random() < self.profile.late_ratio:
            delay = timedelta(milliseconds=rng.randint(*(bound * 1000 for bound in LATE_DELAY_RANGE_SECONDS)))
            self.summary.late_events += 1
            yield self._valid_record(tenant_id, moment - delay, position), True

    def _valid_record(self, tenant_id: str, moment: datetime, position: float) -> KafkaRecord:
        event = self._usage_event(tenant_id, moment)
        self.totals.add(event)
        self.summary.events += 1
        return encode_event(event, position)

    def _emit(self, item: tuple[KafkaRecord, bool], redeliveries: list) -> Iterator[KafkaRecord]:
        record, may_be_duplicated = item
        self.summary.records += 1
        yield record
        if may_be_duplicated and self._rng.random() < self.profile.duplicate_ratio:
            due = self.summary.records + self._rng.randint(*DUPLICATE_DELAY_RANGE_RECORDS)
            heapq.heappush(redeliveries, (due, self.summary.records, record))

    def _due_redeliveries(self, redeliveries: list, position: float, final: bool) -> Iterator[KafkaRecord]:
        while redeliveries and (final or redeliveries[0][0] <= self.summary.records):
            _, _, original = heapq.heappop(redeliveries)
            self.summary.records += 1
            self.summary.duplicates += 1
            # A byte-identical re-delivery: same key, same value, same event id.
            yield KafkaRecord(original.key, original.value, position)

    def _usage_event(self, tenant_id: str, moment: datetime) -> UsageEvent:
        rng = self._rng
        event_type = rng.choices(list(EVENT_TYPE_WEIGHTS), weights=list(EVENT_TYPE_WEIGHTS.values()))[0]
        if event_type == "api.request":
            data: dict[str, Any] = {"region": rng.choice(REGIONS), "bytes_out": rng.randint(200, 5_000_000)}
        elif event_type == "compute.usage":
            data = {
                "instance_type": rng.choice(INSTANCE_TYPES),
                "cpu_seconds": Decimal(rng.randint(1, 3_600_000)).scaleb(-3),
                "concurrency": rng.randint(1, 64),
                "user_id": f"user-{rng.randrange(USERS_PER_TENANT):03d}",
            }
        else:
            # Twelve fractional digits: the most that silver accepts.
            data = {"stored_gb": Decimal(rng.randint(0, 10**15)).scaleb(-12)}
        return UsageEvent(tenant_id, self._event_id(), event_type, moment, data, GENERATOR_SOURCE)

    def _event_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _moment(self, position: float) -> datetime:
        # Millisecond precision, so one tenant can send two events at the same time.
        return self.profile.start + timedelta(milliseconds=int(position * 1000))


def generate_load(profile: LoadProfile, meters: tuple[Meter, ...] | list[Meter]) -> GeneratedLoad:
    """Generate a whole load in memory: records, expected gold totals and counts.

    A pure function of its arguments; use ``LoadGenerator`` to stream large loads.
    """
    generator = LoadGenerator(profile, meters)
    records = list(generator.records())
    return GeneratedLoad(records=records, totals=generator.totals.totals(), summary=generator.summary)


def default_start(duration_seconds: int, now: datetime | None = None) -> datetime:
    """Return the start of the current UTC hour minus the duration.

    The load then ends where the current hour starts, so no event lies in the
    future of its Kafka timestamp. Raises ``LoadError`` for a duration that
    ``LoadProfile.validate`` rejects, before the subtraction can overflow.
    """
    problem = _duration_problem(duration_seconds)
    if problem:
        raise LoadError(f"invalid load profile: {problem}")
    now = now or datetime.now(timezone.utc)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(seconds=duration_seconds)
