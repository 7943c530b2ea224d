"""Percentiles and summaries of measured samples (latencies in seconds)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the ``fraction`` percentile of ``values`` by linear interpolation.

    ``fraction`` is in [0, 1], and 0.5 gives the median. The rank is
    ``fraction * (n - 1)`` and the value lies between the two neighbouring
    order statistics, as numpy's default method ("linear") computes it. Raises ``ValueError`` for an
    empty sequence or a fraction outside [0, 1].
    """
    if not values:
        raise ValueError("percentile of an empty sequence is undefined; measure at least one sample")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], found {fraction}")
    return _percentile_of_sorted(sorted(values), fraction)


def _percentile_of_sorted(ordered: Sequence[float], fraction: float) -> float:
    rank = fraction * (len(ordered) - 1)
    lower = math.floor(rank)
    upper = math.ceil(rank)
    if lower == upper:
        return float(ordered[lower])
    weight = rank - lower
    return float(ordered[lower] + (ordered[upper] - ordered[lower]) * weight)


def summarize(values: Sequence[float] | np.ndarray) -> dict[str, float | int | None]:
    """Return count, p50, p95, p99, min and max of ``values``; statistics are None when empty.

    Sorts once with numpy, so tens of millions of latencies take seconds.
    Raises ``ValueError`` when a value is NaN, since NaN has no place in an order.
    """
    if len(values) == 0:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "min": None, "max": None}
    ordered = np.sort(np.asarray(values, dtype=float))
    if np.isnan(ordered[-1]):
        raise ValueError(f"{int(np.isnan(ordered).sum())} of {len(ordered)} values are NaN; "
                         "summarize measured values only")
    return {
        "count": len(ordered),
        "p50": round(_percentile_of_sorted(ordered, 0.50), 3),
        "p95": round(_percentile_of_sorted(ordered, 0.95), 3),
        "p99": round(_percentile_of_sorted(ordered, 0.99), 3),
        "min": round(float(ordered[0]), 3),
        "max": round(float(ordered[-1]), 3),
    }
