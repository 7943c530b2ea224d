"""The kill -9 / restart loop at one cycle, through a real broker and stream subprocesses."""

import random

import pytest

from pipelines.bench.environment import BenchEnvironment
from pipelines.bench.exactness import check_gold_against_ground_truth
from pipelines.bench.faults import run_kill_cycles
from pipelines.bench.streaming import RECOVERY_TIMEOUT_SECONDS, synthetic_profile


@pytest.fixture
def bench_environment(tmp_path):
    environment = BenchEnvironment(tmp_path / "run")
    environment.with_overrides(**{"kafka.max_offsets_per_trigger": "50"})
    environment.start_broker()
    yield environment
    environment.close()


@pytest.mark.kafka
@pytest.mark.slow
def test_kill_cycle_recovers_and_bills_exactly(bench_environment, spark):
    load = bench_environment.publish_load(synthetic_profile(tenants=3, duration_seconds=20))

    cycles = run_kill_cycles(bench_environment, 1, random.Random(1))
    bench_environment.run_stream_once("all", log_name="after-kill")
    report = check_gold_against_ground_truth(spark, bench_environment.settings, load.ground_truth)

    assert len(cycles) == 1
    assert cycles[0]["recovery_seconds"] is not None
    assert 0 < cycles[0]["recovery_seconds"] < RECOVERY_TIMEOUT_SECONDS
    assert report.missing == []
    assert report.unexpected == []
    assert report.different == []
