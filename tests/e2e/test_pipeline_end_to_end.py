"""The whole pipeline through a real Kafka broker: exact gold, conservation, crashes.

These tests publish generated load (duplicates, late and malformed records
included) with a real producer, run bronze, silver and gold, and compare gold
with the generator's ground truth row for row, decimal for decimal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from pipelines.load.generator import LoadProfile, default_start, generate_load
from pipelines.load.publisher import KafkaPublisher
from pipelines.reconciliation.conservation import conservation_by_tenant, conservation_totals
from pipelines.streams.runner import run_layers_once
from pipelines.tables import checkpoint_path, read_table
from pipelines.vocabulary import Table

pytestmark = [pytest.mark.slow, pytest.mark.kafka]


def publish_load(settings, tenants=4, rate=1.0, duration=900, seed=11):
    profile = LoadProfile(tenants=tenants, rate=rate, duration_seconds=duration, start=default_start(duration),
                          duplicate_ratio=0.05, late_ratio=0.03, malformed_ratio=0.05, seed=seed)
    load = generate_load(profile, settings.meters)
    KafkaPublisher(settings.kafka).publish(load.records)
    return load


def gold_quantities(spark, settings):
    rows = read_table(spark, settings, Table.GOLD_HOURLY).collect()
    return {(row["tenant_id"], row["meter"], row["dimensions"], row["window_start"]): (row["quantity"], row["event_count"])
            for row in rows}


def expected_quantities(load):
    return {(total.tenant_id, total.meter, total.dimensions, total.window_start.replace(tzinfo=None)):
            (total.quantity, total.event_count) for total in load.totals}


def assert_exact_and_conserved(spark, settings, load):
    assert gold_quantities(spark, settings) == expected_quantities(load)

    totals = conservation_totals(conservation_by_tenant(spark, settings))
    assert totals.holds
    assert totals.bronze == load.summary.records
    assert totals.duplicates == load.summary.duplicates

    quarantined = Counter(row["reason_code"] for row in
                          read_table(spark, settings, Table.SILVER_QUARANTINE).select("reason_code").collect())
    assert dict(quarantined) == load.summary.malformed_by_reason()


def test_generated_load_reaches_gold_exactly(spark, kafka_settings):
    load = publish_load(kafka_settings)

    run_layers_once(spark, kafka_settings)

    assert_exact_and_conserved(spark, kafka_settings, load)


def test_rerun_after_redelivery_of_everything_changes_nothing(spark, kafka_settings):
    load = publish_load(kafka_settings, tenants=2, duration=600)
    run_layers_once(spark, kafka_settings)
    before = gold_quantities(spark, kafka_settings)

    KafkaPublisher(kafka_settings.kafka).publish(load.records)
    run_layers_once(spark, kafka_settings)

    assert gold_quantities(spark, kafka_settings) == before
    silver_count = read_table(spark, kafka_settings, Table.SILVER_EVENTS).count()
    assert silver_count == load.summary.events


def stream_command(settings) -> list[str]:
    overrides = {
        "lake.root": settings.lake.root,
        "kafka.topic": settings.kafka.topic,
        "kafka.bootstrap_servers": settings.kafka.bootstrap_servers,
        "kafka.max_offsets_per_trigger": "300",
        "spark.master": "local[2]",
    }
    command = [sys.executable, "-m", "pipelines"]
    for key, value in overrides.items():
        command += ["--set", f"{key}={value}"]
    return command + ["stream", "--once"]


def wait_for_commits(folder: Path, count: int, process: subprocess.Popen, timeout: float = 600) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        commits = [path for path in folder.glob("commits/*") if path.name.isdigit()]
        if len(commits) >= count:
            return True
        time.sleep(0.2)
    return False


def test_kill_mid_run_loses_and_doubles_nothing(spark, kafka_settings):
    """kill -9 the streaming process once bronze has committed two batches, then rerun.

    With 300 offsets per trigger bronze needs about ten batches, so the kill
    lands in the middle of the run with a checkpoint and a table ahead of it.
    """
    load = publish_load(kafka_settings, tenants=2, duration=900, seed=5)
    command = stream_command(kafka_settings)
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}

    first = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bronze_checkpoint = Path(checkpoint_path(kafka_settings, "bronze_usage_events"))
    reached = wait_for_commits(bronze_checkpoint, 2, first)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    assert reached, "bronze committed fewer than two batches before the process ended"
    assert first.returncode == -signal.SIGKILL

    second = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]

    assert_exact_and_conserved(spark, kafka_settings, load)
    bronze_offsets = read_table(spark, kafka_settings, Table.BRONZE_EVENTS).groupBy("partition", "offset").count()
    assert bronze_offsets.filter(F.col("count") > 1).count() == 0
