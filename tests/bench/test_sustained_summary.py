"""The sustained-rate headline: which steps held, and whether billing was checked."""

from pipelines.bench.results import BenchResult
from pipelines.bench.sustained import summarize_search


def step(number, rate, sustained, exact=None):
    summary = {
        "step": number,
        "offered_events_per_second": rate,
        "sustained": sustained,
        "lag": {"gold": {"slope_records_per_second": 0.5, "first_half_max": 100, "second_half_max": 90}},
        "freshness_seconds": {"p50": 40.0, "p95": 70.0},
    }
    if exact is not None:
        summary["billing"] = {"exact": exact}
    return summary


def summarize(*steps):
    result = BenchResult(scenario="sustained-rate", scale="tiny", command="meterhouse bench sustained-rate")
    summarize_search(list(steps), result)
    return result


def test_undrained_steps_leave_billing_unchecked():
    result = summarize(step(0, 52.9, sustained=False))

    assert result.billing_exact is None
    assert result.figures["highest_sustained_events_per_second"] is None
    assert result.figures["lowest_behind_events_per_second"] == 52.9
    assert any("not checked for exactness" in note for note in result.notes)


def test_one_inexact_step_fails_billing():
    result = summarize(step(0, 217.9, sustained=True, exact=True), step(1, 326.8, sustained=False, exact=False))

    assert result.billing_exact is False
    assert result.figures["highest_sustained_events_per_second"] == 217.9


def test_drained_exact_steps_pass_billing():
    result = summarize(step(0, 340.4, sustained=True, exact=True), step(1, 510.6, sustained=True, exact=True))

    assert result.billing_exact is True
    assert result.figures["highest_sustained_events_per_second"] == 510.6
    assert result.notes == []
