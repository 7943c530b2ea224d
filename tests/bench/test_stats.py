"""Percentiles of latency samples."""

import numpy as np
import pytest

from pipelines.bench.stats import percentile, summarize


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([7.0], 0.5, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 0.0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0.95, 3.85),
        ([1.0, 2.0, 3.0, 4.0], 1.0, 4.0),
        ([4.0, 1.0, 3.0, 2.0, 5.0], 0.5, 3.0),
    ],
)
def test_percentile_interpolates_linearly(values, fraction, expected):
    assert percentile(values, fraction) == pytest.approx(expected)


def test_percentile_of_empty_sequence_raises():
    with pytest.raises(ValueError, match="empty sequence"):
        percentile([], 0.5)


def test_percentile_outside_unit_interval_raises():
    with pytest.raises(ValueError, match=r"must be in \[0, 1\], found 95"):
        percentile([1.0], 95)


def test_summarize_reports_count_and_percentiles():
    summary = summarize([float(value) for value in range(1, 101)])

    assert summary["count"] == 100
    assert summary["p50"] == 50.5
    assert summary["p95"] == 95.05
    assert summary["min"] == 1.0
    assert summary["max"] == 100.0


def test_summarize_empty_has_no_statistics():
    assert summarize([]) == {"count": 0, "p50": None, "p95": None, "p99": None, "min": None, "max": None}


def test_summarize_array_matches_list():
    values = [3.25, 0.5, 7.0, 1.125, 2.0, 9.5, 4.75]

    assert summarize(np.array(values)) == summarize(values)
    assert summarize(values)["p95"] == round(percentile(values, 0.95), 3)


def test_summarize_rejects_nan():
    with pytest.raises(ValueError, match="1 of 3 values are NaN"):
        summarize(np.array([1.0, np.nan, 2.0]))
