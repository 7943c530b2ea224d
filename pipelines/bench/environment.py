"""A private broker, topic and lake for one benchmark run, and stream subprocesses.

Each run starts its own single-node KRaft broker on free loopback ports with its
data under the run folder, so a benchmark never touches the broker or lake of
``conf/local.yaml`` or of the test suite. Streams run as ``python -m pipelines
stream`` subprocesses with ``--set`` overrides, which is how the fault scenario
can ``kill -9`` them and how the scaling scenario gets one Spark master per run.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.bench.errors import BenchError
from pipelines.bronze.ingest import QUERY_NAME as BRONZE_QUERY
from pipelines.config import DEFAULT_CONF, PROJECT_ROOT, Settings, load_settings
from pipelines.gold.stream import QUERY_NAME as GOLD_QUERY
from pipelines.load.generator import LoadGenerator, LoadProfile
from pipelines.load.ground_truth import write_ground_truth
from pipelines.load.publisher import KafkaPublisher, PublishReport
from pipelines.runtime.kafka_broker import LocalBroker, ensure_topic
from pipelines.silver.stream import QUERY_NAME as SILVER_QUERY
from pipelines.streams.runner import LAYERS
from pipelines.tables import checkpoint_path

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
STREAM_QUERY_NAMES = {"bronze": BRONZE_QUERY, "silver": SILVER_QUERY, "gold": GOLD_QUERY}
STREAM_EXIT_TIMEOUT_SECONDS = 120


@dataclass
class PublishedLoad:
    """A load published to the run's topic and its expected gold rows."""

    report: PublishReport
    ground_truth: Path
    summary: dict


@dataclass
class BenchEnvironment:
    """Folder, broker, streams and settings of one run; ``close`` ends them and removes the folder."""

    folder: Path
    master: str = "local[2]"
    partitions: int = 2
    trigger_interval_seconds: int = 1
    keep_folder: bool = False
    broker: LocalBroker | None = field(default=None, init=False)
    overrides: dict[str, str] = field(default_factory=dict, init=False)
    streams: list[subprocess.Popen] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        port, controller_port = free_loopback_ports(2)
        self.overrides = {
            "lake.root": str(self.folder / "lake"),
            "exports.root": str(self.folder / "exports"),
            "broker.host": LOOPBACK,
            "broker.port": str(port),
            "broker.controller_port": str(controller_port),
            "broker.data_dir": str(self.folder / "kafka"),
            "kafka.bootstrap_servers": f"{LOOPBACK}:{port}",
            "kafka.topic": "usage-events",
            "kafka.partitions": str(self.partitions),
            "spark.master": self.master,
            "spark.shuffle_partitions": "2",
            "ingest.trigger_interval_seconds": str(self.trigger_interval_seconds),
        }

    @property
    def settings(self) -> Settings:
        return load_settings(DEFAULT_CONF, self.overrides)

    def with_overrides(self, **changes: str) -> Settings:
        """Change settings for the rest of the run (a fresh lake, another master) and return them."""
        self.overrides.update(changes)
        return self.settings

    def use_fresh_lake_and_topic(self, name: str) -> Settings:
        """Point the rest of the run at a new lake and a new topic named after ``name``, creating the topic."""
        settings = self.with_overrides(**{"lake.root": str(self.folder / f"lake-{name}"),
                                          "kafka.topic": f"usage-events-{name}"})
        ensure_topic(settings.kafka)
        return settings

    def start_broker(self) -> None:
        self.broker = LocalBroker(self.settings.broker)
        self.broker.start()
        ensure_topic(self.settings.kafka)

    def close(self) -> None:
        # A stream runs in its own session, so a bench stopped mid-phase must end it here.
        for process in self.streams:
            if process.poll() is None:
                kill_process_group(process)
        if self.broker is not None:
            self.broker.stop()
        if not self.keep_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def publish_load(self, profile: LoadProfile, realtime: bool = False, name: str = "load",
                     speedup: float = 1.0) -> PublishedLoad:
        """Publish ``profile`` to the run's topic and write its ground truth next to the lake.

        With ``realtime``, event time runs ``speedup`` times as fast as the wall
        clock. Without it, the records go out as fast as the producer sends them.
        """
        settings = self.settings
        generator = LoadGenerator(profile, settings.meters)
        report = KafkaPublisher(settings.kafka).publish(generator.records(), realtime=realtime, speedup=speedup)
        ground_truth = self.folder / f"{name}-ground-truth.csv"
        write_ground_truth(generator.totals.totals(), ground_truth)
        return PublishedLoad(report=report, ground_truth=ground_truth, summary=generator.summary.to_dict())

    def stream_command(self, *arguments: str) -> list[str]:
        """Return the ``python -m pipelines stream`` command line with this run's settings."""
        overrides = [part for key, value in self.overrides.items() for part in ("--set", f"{key}={value}")]
        return [sys.executable, "-m", "pipelines", "--conf", str(DEFAULT_CONF), *overrides, "stream", *arguments]

    def launch_stream(self, *arguments: str, log_name: str = "stream") -> subprocess.Popen:
        """Start a stream subprocess in its own process group, output appended to a log file."""
        log_path = self.folder / f"{log_name}.log"
        with log_path.open("ab") as output:
            process = subprocess.Popen(self.stream_command(*arguments), cwd=PROJECT_ROOT, stdout=output,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.streams.append(process)
        return process

    def run_stream_once(self, layers: str = "all", log_name: str = "stream-once") -> list[dict]:
        """Run ``stream --once`` to completion and return the per-layer lines it prints."""
        command = self.stream_command("--once", "--layer", layers)
        result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
        (self.folder / f"{log_name}.log").write_text(result.stdout + result.stderr, encoding="utf-8")
        if result.returncode != 0:
            raise BenchError(f"`meterhouse stream --once --layer {layers}` failed with exit code {result.returncode}; "
                             f"see {self.folder / log_name}.log (run with --keep to keep it). Last output:\n{result.stderr[-3000:]}")
        return parse_stream_summary(result.stdout)

    def committed_batches(self, layer: str) -> dict[int, float]:
        """Return batch id -> commit file mtime (epoch seconds) of a layer's checkpoint."""
        return self._checkpoint_files(layer, "commits")

    def planned_batches(self, layer: str) -> dict[int, float]:
        """Return batch id -> offsets file mtime: the batches a layer has started, committed or not."""
        return self._checkpoint_files(layer, "offsets")

    def _checkpoint_files(self, layer: str, folder: str) -> dict[int, float]:
        files = Path(checkpoint_path(self.settings, STREAM_QUERY_NAMES[layer])) / folder
        batches = {}
        for path in files.glob("[0-9]*"):
            if path.name.isdigit():
                try:
                    batches[int(path.name)] = path.stat().st_mtime
                except FileNotFoundError:
                    continue
        return batches


def parse_stream_summary(output: str) -> list[dict]:
    """Parse the lines ``meterhouse stream`` prints: layer, batches, rows, seconds, rows/s."""
    runs = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 9 and parts[0] in LAYERS and parts[2] == "batches":
            runs.append({"layer": parts[0], "batches": int(parts[1]), "input_rows": int(parts[3]),
                         "seconds": float(parts[5]), "rows_per_second": float(parts[7])})
    return runs


def kill_process_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the process group that ``launch_stream`` started, then reap the leader."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=STREAM_EXIT_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def stop_stream(process: subprocess.Popen) -> None:
    """Stop a stream subprocess with SIGINT to its Python process only, then wait for it.

    ``run_layers_continuously`` then stops its queries itself; signalling the
    whole group would also interrupt the JVM while the queries stop. After
    ``STREAM_EXIT_TIMEOUT_SECONDS`` the group gets SIGKILL.
    """
    try:
        os.kill(process.pid, signal.SIGINT)
        process.wait(timeout=STREAM_EXIT_TIMEOUT_SECONDS)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        log.warning("stream pid %s did not stop within %ss of SIGINT; sending SIGKILL to its group",
                    process.pid, STREAM_EXIT_TIMEOUT_SECONDS)
        kill_process_group(process)


def wait_for_new_commit(environment: BenchEnvironment, layers: list[str], after: float, timeout_seconds: float,
                        known: dict[str, set[int]] | None = None) -> float | None:
    """Wait until any layer commits a batch it had not committed before; return that commit's time.

    ``known`` holds the batch ids committed before the wait; a removed commit
    file that the stream writes again counts as new. Returns None on timeout.
    """
    known = known or {}
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        for layer in layers:
            for batch_id, committed_at in environment.committed_batches(layer).items():
                if batch_id not in known.get(layer, set()) and committed_at >= after:
                    return committed_at
        time.sleep(0.2)
    return None


def free_loopback_ports(count: int) -> list[int]:
    """Return ``count`` distinct ports that are free on the loopback interface now."""
    sockets = []
    try:
        for _ in range(count):
            handle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            handle.bind((LOOPBACK, 0))
            sockets.append(handle)
        return [handle.getsockname()[1] for handle in sockets]
    finally:
        for handle in sockets:
            handle.close()
