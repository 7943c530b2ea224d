"""The bronze job through the real ``spark-submit`` script of the installed pyspark.

The run is offline: Delta Lake and the Kafka connector come from the cached
jars (``--jars``), in place of the ``--packages`` that a cluster run uses.
The package goes in as a zip through ``--py-files``, as on a cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pyspark
import pytest

from pipelines.config import DEFAULT_CONF, PROJECT_ROOT
from pipelines.load.events import UsageEvent, encode_event
from pipelines.load.publisher import KafkaPublisher
from pipelines.runtime.jars import spark_jars
from pipelines.session import DELTA_CATALOG, DELTA_EXTENSION

SPARK_SUBMIT = Path(pyspark.__file__).parent / "bin" / "spark-submit"
# Generous because a spark-submit run took over 5 minutes on a loaded two-core machine.
SUBMIT_TIMEOUT_SECONDS = 900


def package_zip(target: Path) -> Path:
    """Zip the ``pipelines`` package with the layout that ``--py-files`` expects."""
    archive = target / "meterhouse.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted((PROJECT_ROOT / "pipelines").rglob("*.py")):
            handle.write(path, path.relative_to(PROJECT_ROOT))
    return archive


def spark_submit(job: str, job_arguments: list[str], py_files: Path) -> subprocess.CompletedProcess:
    command = [
        str(SPARK_SUBMIT),
        "--master", "local[1]",
        "--driver-memory", "1g",
        "--jars", ",".join(str(path) for path in spark_jars()),
        "--conf", f"spark.sql.extensions={DELTA_EXTENSION}",
        "--conf", f"spark.sql.catalog.spark_catalog={DELTA_CATALOG}",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.sql.streaming.stateStore.providerClass="
                  "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
        "--py-files", str(py_files),
        str(PROJECT_ROOT / "pipelines" / "jobs" / f"{job}.py"),
        *job_arguments,
    ]
    environment = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    environment.pop("SPARK_HOME", None)
    environment.pop("METERHOUSE_USE_SUBMITTED_SESSION", None)
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=py_files.parent,
                          timeout=SUBMIT_TIMEOUT_SECONDS, check=False)


def active_parquet_files(table: Path) -> list[Path]:
    """Replay the Delta log's JSON commits and return the table's live data files."""
    live: dict[str, Path] = {}
    for commit in sorted((table / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                live[action["add"]["path"]] = table / action["add"]["path"]
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    return list(live.values())


def read_bronze_rows(table: Path) -> list[dict]:
    rows = []
    for path in active_parquet_files(table):
        rows += pq.read_table(path, columns=["key", "value", "partition", "offset"]).to_pylist()
    return sorted(rows, key=lambda row: (row["partition"], row["offset"]))


def summary_fields(output: str) -> list[str]:
    """Return the fields of the line that ``meterhouse stream`` prints for bronze."""
    lines = [line.split() for line in output.splitlines() if line.startswith("bronze ")]
    assert len(lines) == 1, output[-4000:]
    return lines[0]


def job_arguments(settings) -> list[str]:
    return [
        "--conf", str(DEFAULT_CONF),
        "--set", f"lake.root={settings.lake.root}",
        "--set", f"exports.root={settings.exports_root}",
        "--set", f"kafka.bootstrap_servers={settings.kafka.bootstrap_servers}",
        "--set", f"kafka.topic={settings.kafka.topic}",
        "--set", "spark.shuffle_partitions=1",
        "--once",
    ]


@pytest.mark.slow
@pytest.mark.kafka
def test_bronze_job_under_spark_submit(kafka_settings, tmp_path):
    events = [
        UsageEvent(tenant, f"event-{number}", "api.request", datetime(2026, 11, 2, 8, number, tzinfo=timezone.utc),
                   {"region": "eu-west-1", "requests": Decimal("1")}, "test")
        for number, tenant in enumerate(["tenant-a", "tenant-b", "tenant-a"])
    ]
    records = [encode_event(event) for event in events]
    KafkaPublisher(kafka_settings.kafka).publish(records)
    py_files = package_zip(tmp_path)

    first = spark_submit("bronze", job_arguments(kafka_settings), py_files)
    second = spark_submit("bronze", job_arguments(kafka_settings), py_files)
    rows = read_bronze_rows(Path(kafka_settings.lake.root) / "bronze" / "usage_events")

    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    # spark-submit merges the Python driver's stderr (the log) into its stdout.
    assert "using the submitted Spark" in first.stdout
    assert summary_fields(first.stdout)[:5] == ["bronze", "1", "batches", "3", "rows"]
    assert summary_fields(second.stdout)[:5] == ["bronze", "0", "batches", "0", "rows"]
    assert len(rows) == 3
    assert sorted(row["key"] for row in rows) == ["tenant-a", "tenant-a", "tenant-b"]
    assert sorted(row["value"] for row in rows) == sorted(record.value for record in records)
