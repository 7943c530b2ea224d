"""Consumer lag and latency over time, rebuilt after a run from the lake's timestamps.

Each record carries the moment it was produced (its Kafka timestamp), the
moment bronze wrote it (``ingested_at``), the moment silver classified it
(``processed_at`` in silver, duplicates or quarantine) and, for billed events,
the first ``gold.usage_hourly`` commit after that. From these the bench
rebuilds, for any moment of the run, how many produced records a layer had not
finished yet: its lag in records. A pipeline sustains a rate when that lag stops
growing, however much it rises and falls between batches.

All times are epoch seconds (floats). Pure functions, no Spark.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.bench.stats import percentile

LAYERS = ("bronze", "silver", "gold")
# A lag that grows by less than this fraction of the offered rate counts as flat,
# so the pipeline falls behind by less than 1 % of what comes in.
FLAT_SLOPE_FRACTION = 0.01


@dataclass(frozen=True)
class RecordTimes:
    """When a record was produced and when each layer finished it, None for a layer that never did.

    ``gold`` is set only for a billed event (one that silver accepted). A
    duplicate or quarantined record is done once silver has classified it.
    """

    produced: float
    bronze: float | None
    silver: float | None
    gold: float | None = None
    billed: bool = True

    def finished(self, layer: str) -> float | None:
        if layer == "gold" and not self.billed:
            return self.silver
        return getattr(self, layer)


@dataclass(frozen=True)
class LagTrend:
    """Lag of one layer over a measurement window, in records."""

    layer: str
    slope_records_per_second: float
    first_half_max: int
    second_half_max: int
    end: int

    def is_flat(self, offered_per_second: float) -> bool:
        return self.slope_records_per_second <= FLAT_SLOPE_FRACTION * offered_per_second

    def to_dict(self) -> dict:
        return {"layer": self.layer, "slope_records_per_second": round(self.slope_records_per_second, 3),
                "first_half_max": self.first_half_max, "second_half_max": self.second_half_max, "end": self.end}


def lag_series(records: Sequence[RecordTimes], layer: str, moments: Sequence[float]) -> list[int]:
    """Return, for each moment, the records produced by then that ``layer`` had not finished."""
    produced = sorted(record.produced for record in records)
    finished = sorted(time for time in (record.finished(layer) for record in records) if time is not None)
    return [bisect.bisect_right(produced, moment) - bisect.bisect_right(finished, moment) for moment in moments]


def evenly_spaced(start: float, end: float, step: float) -> list[float]:
    """Return ``start``, ``start + step``, ... up to and including ``end``."""
    if step <= 0:
        raise ValueError(f"step must be positive, found {step}")
    if end < start:
        raise ValueError(f"the window ends before it starts: {start} to {end}")
    count = int((end - start) // step) + 1
    return [start + index * step for index in range(max(count, 0))]


def least_squares_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Return the slope of the least-squares line through the points; 0.0 for fewer than two."""
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys differ in length: {len(xs)} and {len(ys)}")
    if len(xs) < 2:
        return 0.0
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread


def lag_trend(records: Sequence[RecordTimes], layer: str, start: float, end: float, step: float = 1.0) -> LagTrend:
    """Fit the lag of ``layer`` between ``start`` and ``end``, sampled every ``step`` seconds."""
    moments = evenly_spaced(start, end, step)
    lags = lag_series(records, layer, moments)
    half = len(lags) // 2 or 1
    return LagTrend(
        layer=layer,
        slope_records_per_second=least_squares_slope(moments, lags),
        first_half_max=max(lags[:half], default=0),
        second_half_max=max(lags[half:] or lags[:half], default=0),
        end=lags[-1] if lags else 0,
    )


@dataclass(frozen=True)
class FaultLatency:
    """End-to-end latency around one ``kill -9``: before it, at its worst and how long until normal again."""

    baseline_p50: float
    baseline_p95: float
    peak: float
    back_to_normal_seconds: float | None

    def to_dict(self) -> dict:
        return {"baseline_p50_seconds": round(self.baseline_p50, 3), "baseline_p95_seconds": round(self.baseline_p95, 3),
                "peak_seconds": round(self.peak, 3), "peak_increase_seconds": round(self.peak - self.baseline_p50, 3),
                "back_to_normal_seconds": None if self.back_to_normal_seconds is None
                else round(self.back_to_normal_seconds, 2)}


def fault_latency(records: Sequence[RecordTimes], warmup_end: float, killed_at: float, relaunched_at: float,
                  bucket_seconds: float = 5.0) -> FaultLatency:
    """Compare end-to-end latency (produced → gold) before a kill with latency after it.

    The baseline is the latency of the records produced after ``warmup_end``
    that reached gold before the kill. Every later record counts as affected,
    including one produced before the kill that the kill held up. Affected
    records are grouped into buckets of ``bucket_seconds`` of production time,
    counted from ``relaunched_at``. Latency is back to normal at the start of
    the first bucket from which on every bucket's median is at most the
    baseline's p95. The result is seconds after ``relaunched_at``, or None when
    no such bucket exists or a billed event never reached gold. Duplicates and
    quarantined records are left out.
    """
    after_warmup = [record for record in records if record.billed and record.produced >= warmup_end]
    billed = sorted((record.produced, record.gold) for record in after_warmup if record.gold is not None)
    # A billed event that never reached gold (a run stopped before catching
    # up) would leave only the fast records in the last buckets.
    unfinished = len(after_warmup) - len(billed)
    baseline = [gold - produced for produced, gold in billed if gold < killed_at]
    if not baseline:
        raise ValueError("no record produced after the warm-up reached gold before the kill; "
                         "lengthen the run or kill later")
    after = [(produced, gold - produced) for produced, gold in billed if gold >= killed_at]
    baseline_p95 = percentile(baseline, 0.95)
    peak = max((latency for _, latency in after), default=max(baseline))
    return FaultLatency(
        baseline_p50=percentile(baseline, 0.5),
        baseline_p95=baseline_p95,
        peak=peak,
        back_to_normal_seconds=None if unfinished else _back_to_normal(after, relaunched_at, baseline_p95, bucket_seconds),
    )


def _back_to_normal(after: list[tuple[float, float]], relaunched_at: float, limit: float,
                    bucket_seconds: float) -> float | None:
    buckets: dict[int, list[float]] = {}
    for produced, latency in after:
        index = int((produced - relaunched_at) // bucket_seconds)
        buckets.setdefault(index, []).append(latency)

    normal_from = None
    # Walking back from the last bucket finds the earliest bucket after which
    # no bucket is slow again.
    for index in sorted(buckets, reverse=True):
        if percentile(buckets[index], 0.5) > limit:
            break
        normal_from = index
    if normal_from is None:
        return None
    return max(0.0, normal_from * bucket_seconds)
