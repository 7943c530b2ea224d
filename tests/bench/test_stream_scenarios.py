"""The tenant-load, capacity, scaling and memory scenarios at tiny scale.

Each runs as ``meterhouse bench SCENARIO --scale tiny`` would: a real broker on
free loopback ports, real stream subprocesses, a lake in a temporary folder,
and the test session's Spark to check billing against the ground truth.
"""

import pytest

from pipelines.bench.commands import SCALES
from pipelines.bench.environment import BenchEnvironment
from pipelines.bench.results import BenchResult
from pipelines.bench.streaming import capacity, memory, scaling, tenant_load

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def run_scenario(scenario, name: str, tmp_path, spark) -> BenchResult:
    result = BenchResult(scenario=name, scale="tiny", command="pytest")
    environment = BenchEnvironment(tmp_path / "run")
    try:
        scenario(lambda: spark, environment, SCALES["tiny"][name], result)
    finally:
        environment.close()
    return result


def test_tenant_load_latency_per_stage(tmp_path, spark):
    result = run_scenario(tenant_load, "tenant-load", tmp_path, spark)

    run = result.figures["runs"][0]
    latency = run["latency_seconds"]
    assert result.billing_exact is True
    assert run["billing"]["exact"] is True
    assert run["caught_up_before_timeout"] is True
    assert run["tenants"] == SCALES["tiny"]["tenant-load"]["tenants"][0]
    # 10 tenants at 10 events/s each (±20 % per tenant), plus redelivered and malformed
    # records, with 60 s of event time sent in about 30 s.
    assert 160 <= run["offered_events_per_second"] <= 280
    assert run["event_seconds"] == 60
    assert 1.5 <= run["speedup_offered"] <= 2.05
    assert run["gold_seconds"] is not None
    assert run["gold_seconds"] >= run["publish_seconds"]
    assert run["gold_events_per_second"] > 0
    assert run["gold_events_per_second"] <= run["offered_events_per_second"]
    for stage in ("ingestion", "processing", "end_to_end"):
        assert latency[stage]["count"] > 0
        assert latency[stage]["p50"] >= 0
        assert latency[stage]["p50"] <= latency[stage]["p95"]
    assert latency["end_to_end"]["p50"] > latency["ingestion"]["p50"]
    assert len(result.headline) == 5


def test_capacity_layers_alone_and_together(tmp_path, spark):
    result = run_scenario(capacity, "capacity", tmp_path, spark)

    figures = result.figures
    stages = figures["stages"]
    published = figures["records_published"]
    assert result.billing_exact is True
    assert figures["billing_staged"]["exact"] is True
    assert figures["billing_end_to_end"]["exact"] is True
    assert set(stages) == {"bronze", "silver", "gold"}
    assert stages["bronze"]["input_rows"] == published
    assert stages["silver"]["input_rows"] == published
    # Gold reads only the billed events, because duplicates and malformed records stay in silver.
    assert stages["gold"]["input_rows"] > 0
    assert stages["gold"]["input_rows"] < published
    assert all(stage["rows_per_second"] > 0 for stage in stages.values())
    assert [run["layer"] for run in figures["end_to_end_runs"]] == ["bronze", "silver", "gold"]
    assert figures["end_to_end_stream_seconds"] > 0
    # The process time adds the Spark start-up to the three layers' stream time.
    assert figures["end_to_end_process_seconds"] > figures["end_to_end_stream_seconds"]
    assert figures["silver_profile"]["bronze_rows"] == published
    assert figures["silver_profile"]["functions"]


def test_scaling_one_and_two_cores(tmp_path, spark):
    result = run_scenario(scaling, "scaling", tmp_path, spark)

    runs = result.figures["runs"]
    assert result.billing_exact is True
    assert set(runs) == {"local[1]", "local[2]"}
    for run in runs.values():
        assert run["billing"]["exact"] is True
        assert [layer["layer"] for layer in run["layers"]] == ["bronze", "silver", "gold"]
        assert run["layers"][0]["input_rows"] == result.figures["records_published"]
    # Two cores cannot make the same work more than twice as fast.
    assert result.figures["speedup"] > 0
    assert result.figures["speedup"] <= 2.2


def test_memory_without_state_store(tmp_path, spark):
    result = run_scenario(memory, "memory", tmp_path, spark)

    resources = result.figures["resources"]
    assert result.billing_exact is True
    assert resources["samples"] == len(result.figures["samples"])
    assert resources["samples"] > 10
    # A driver JVM with Spark loaded takes hundreds of MiB; a figure below 100 means the sampler missed it.
    assert resources["peak_pss_mib"] > 100
    assert resources["peak_rss_mib"] > 100
    assert resources["peak_pss_mib"] == max(resources["peak_pss_mib_first_half"], resources["peak_pss_mib_second_half"])
    # The results note that the queries keep no state store, so a state store fails this check.
    assert resources["state_bytes_max"] == 0
    assert resources["checkpoint_bytes_last"] > 0
