"""The live-load phases of the harness at tiny scale: a sustained-rate step, a kill -9 and a broker outage under load.

Both run a real broker and real stream subprocesses; the test session's Spark
reads the lake afterwards.
"""

import random

import pytest

from pipelines.bench.commands import SCALES
from pipelines.bench.environment import BenchEnvironment
from pipelines.bench.faults import run_fault_under_load, summarize_fault_under_load
from pipelines.bench.lag import FLAT_SLOPE_FRACTION
from pipelines.bench.results import BenchResult
from pipelines.bench.streaming import collect_record_times
from pipelines.bench.sustained import sustained_rate


@pytest.fixture
def bench_environment(tmp_path):
    environment = BenchEnvironment(tmp_path / "run")
    yield environment
    environment.close()


@pytest.mark.kafka
@pytest.mark.slow
def test_sustained_rate_step_measures_lag(bench_environment, spark):
    scale = SCALES["tiny"]["sustained-rate"]
    result = BenchResult(scenario="sustained-rate", scale="tiny", command="pytest")

    sustained_rate(lambda: spark, bench_environment, scale, result)

    step = result.figures["steps"][0]
    gold = step["lag"]["gold"]
    assert step["records_published"] > 0
    assert step["caught_up_before_timeout"] is True
    assert step["billing"]["exact"] is True
    assert result.billing_exact is True
    assert set(step["lag"]) == {"bronze", "silver", "gold"}
    assert step["freshness_seconds"]["count"] > 0
    assert step["sustained"] == (gold["slope_records_per_second"] <= FLAT_SLOPE_FRACTION * step["offered_events_per_second"])
    sustained_rate_figure = result.figures["highest_sustained_events_per_second"]
    assert sustained_rate_figure == (step["offered_events_per_second"] if step["sustained"] else None)


@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.parametrize("fault", ["kill", "broker"])
def test_fault_under_load_reports_latency(bench_environment, spark, fault):
    scale = SCALES["tiny"]["faults"]
    bench_environment.start_broker()

    run = run_fault_under_load(bench_environment, scale, random.Random(3), fault)
    figures = summarize_fault_under_load(spark, run)
    _, gold_commits = collect_record_times(spark, bench_environment.settings)

    latency = figures["latency"]
    assert figures["fault"] == fault
    assert figures["caught_up_before_timeout"] is True
    assert figures["billing"]["exact"] is True
    assert figures["records_not_in_bronze"] == 0
    assert run["published_at"] + scale["under_load_warmup_seconds"] < run["fault_at"] < run["recovered_at"]
    assert 0 < latency["baseline_p50_seconds"] <= latency["baseline_p95_seconds"]
    # The records produced in the last moment before the fault cannot reach
    # gold before the first gold commit after the recovery.
    first_commit_after_recovery = min(moment for moment in gold_commits if moment > run["recovered_at"])
    assert latency["peak_seconds"] >= first_commit_after_recovery - run["fault_at"] - 1.0
    assert latency["peak_increase_seconds"] == pytest.approx(latency["peak_seconds"] - latency["baseline_p50_seconds"], abs=0.002)
