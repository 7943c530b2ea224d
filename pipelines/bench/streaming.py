"""Scenarios that run the streams (tenant-load, memory, capacity, scaling) and their shared steps.

Streams run in ``meterhouse stream`` subprocesses against the run's own broker
and lake (see ``environment``). The Spark session of the bench process only
reads the lake after the streams have stopped, so it does not compete with
them for the cores while they are measured.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.bench.environment import (
    STREAM_QUERY_NAMES,
    BenchEnvironment,
    PublishedLoad,
    stop_stream,
)
from pipelines.bench.errors import BenchError
from pipelines.bench.exactness import check_gold_against_ground_truth
from pipelines.bench.lag import RecordTimes
from pipelines.bench.machine import tree_memory_bytes
from pipelines.bench.stats import summarize
from pipelines.config import Settings
from pipelines.load.generator import LoadProfile, default_start
from pipelines.tables import delta_table, read_table, table_path
from pipelines.vocabulary import Column as C
from pipelines.vocabulary import Table

log = logging.getLogger(__name__)

ALL_LAYERS = list(STREAM_QUERY_NAMES)
STARTUP_TIMEOUT_SECONDS = 600
RECOVERY_TIMEOUT_SECONDS = 600
# The streams count as caught up once no layer has committed for this long.
QUIET_SECONDS = 8.0
SAMPLE_INTERVAL_SECONDS = 1.0


def synthetic_profile(tenants: int, duration_seconds: int, rate: float = 10.0, seed: int = 7) -> LoadProfile:
    """Return the generator profile of a scenario, ending at the start of the current UTC hour."""
    return LoadProfile(tenants=tenants, rate=rate, duration_seconds=duration_seconds,
                       start=default_start(duration_seconds), seed=seed)


@dataclass
class ResourceSampler:
    """Sample the RSS of a process tree and the size of the checkpoint folders once a second."""

    root_pid: int
    checkpoint_root: Path
    samples: list[dict] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        started = time.monotonic()

        def sample() -> None:
            while not self._stop.wait(SAMPLE_INTERVAL_SECONDS):
                rss_bytes, pss_bytes = tree_memory_bytes(self.root_pid)
                self.samples.append({
                    "seconds": round(time.monotonic() - started, 1),
                    "rss_bytes": rss_bytes,
                    "pss_bytes": pss_bytes,
                    "checkpoint_bytes": folder_bytes(self.checkpoint_root),
                    "state_bytes": sum(folder_bytes(path) for path in self.checkpoint_root.glob("*/state")),
                })

        self._thread = threading.Thread(target=sample, name="resource-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def summary(self) -> dict:
        """Peak and per-half peaks: a later half far above the first half means growth, not a bound."""
        if not self.samples:
            return {"samples": 0}
        half = len(self.samples) // 2 or 1
        first, second = self.samples[:half], self.samples[half:] or self.samples[:half]
        return {
            "samples": len(self.samples),
            "peak_rss_mib": _peak_mib(self.samples, "rss_bytes"),
            "peak_pss_mib": _peak_mib(self.samples, "pss_bytes"),
            "peak_pss_mib_first_half": _peak_mib(first, "pss_bytes"),
            "peak_pss_mib_second_half": _peak_mib(second, "pss_bytes"),
            "last_pss_mib": round(self.samples[-1]["pss_bytes"] / 2**20, 1),
            "state_bytes_max": max(sample["state_bytes"] for sample in self.samples),
            "checkpoint_bytes_last": self.samples[-1]["checkpoint_bytes"],
        }


def _peak_mib(samples: list[dict], key: str) -> float:
    return round(max(sample[key] for sample in samples) / 2**20, 1)


def folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except FileNotFoundError:
            continue
    return total


def run_live_load(environment: BenchEnvironment, profile: LoadProfile, drain_timeout_seconds: float,
                  speedup: float | None = 1.0) -> dict:
    """Publish ``profile`` while continuous streams run; stop them once caught up.

    Event time runs ``speedup`` times as fast as the wall clock (1.0: real
    time); with None the records go out as fast as the producer sends them.
    Returns the published load, the wall-clock marks of the run and the
    resource samples of the stream process tree.
    """
    settings = environment.settings
    process = environment.launch_stream(log_name="stream-live")
    sampler = ResourceSampler(process.pid, Path(settings.lake.checkpoint_root))
    sampler.start()
    try:
        wait_until_tables_exist(settings, process)
        published_at = time.time()
        load = environment.publish_load(profile, realtime=speedup is not None,
                                        speedup=1.0 if speedup is None else speedup)
        published_until = time.time()
        caught_up = wait_until_quiet(environment, published_until, drain_timeout_seconds, process)
    finally:
        stop_stream(process)
        sampler.stop()
    return {"load": load, "published_at": published_at, "published_until": published_until,
            "caught_up": caught_up, "resources": sampler, "event_seconds": profile.duration_seconds}


def wait_until_tables_exist(settings: Settings, process) -> None:
    """Wait until the gold stream has created its tables, so all three queries are running."""
    gold_log = Path(table_path(settings, Table.GOLD_DAILY)) / "_delta_log" / "00000000000000000000.json"
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not gold_log.exists():
        if process.poll() is not None:
            raise BenchError(f"the stream process failed with exit code {process.returncode} before it created its tables; "
                             "rerun with --keep and read stream-live.log in the run folder")
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {STARTUP_TIMEOUT_SECONDS}s waiting for the streams to create {gold_log}")
        time.sleep(0.5)
    # The gold query starts right after its tables exist; give it a moment to be polling.
    time.sleep(3)


def wait_until_quiet(environment: BenchEnvironment, since: float, timeout_seconds: float, process=None) -> bool:
    """Wait until every layer is idle for ``QUIET_SECONDS``; False when ``timeout_seconds`` passes first.

    A layer is idle when its last started batch is committed and it has
    started no batch since. Waiting only for a pause in commits is not
    enough: a gold batch can run far longer than the pause, and stopping it
    then leaves gold behind. Raises ``BenchError`` when ``process`` (the
    stream) exits while waiting, since it will then never catch up.
    """
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if all_layers_idle(environment, since):
            return True
        if process is not None and process.poll() is not None:
            raise BenchError(f"the stream process exited with code {process.returncode} before catching up; "
                             "rerun with --keep and read its log in the run folder")
        time.sleep(0.5)
    return False


def all_layers_idle(environment: BenchEnvironment, since: float) -> bool:
    last_activity = since
    for layer in ALL_LAYERS:
        planned = environment.planned_batches(layer)
        committed = environment.committed_batches(layer)
        if max(planned, default=-1) != max(committed, default=-1):
            return False
        last_activity = max([last_activity, *planned.values(), *committed.values()])
    return time.time() - last_activity >= QUIET_SECONDS


def collect_record_times(spark: SparkSession, settings: Settings) -> tuple[list[RecordTimes], list[float]]:
    """Return each bronze record's times per layer, and the ``gold.usage_hourly`` MERGE commit times."""
    times, gold_commits = record_time_columns(spark, settings)
    records = [
        RecordTimes(produced=float(produced), bronze=float(bronze), silver=_none_if_nan(silver),
                    gold=_none_if_nan(gold), billed=bool(billed))
        for produced, bronze, silver, gold, billed in zip(
            times["produced"], times["bronze"], times["silver"], times["gold"], times["billed"])
    ]
    return records, gold_commits


def record_time_columns(spark: SparkSession, settings: Settings) -> tuple[dict[str, np.ndarray], list[float]]:
    """Return the per-layer times of every bronze record as columns, and the gold MERGE commit times.

    A record's silver time is its ``processed_at`` in whichever silver table
    took it (NaN while silver has not classified it). A billed event's gold
    time is the first gold commit after that. Columns rather than rows,
    through Arrow, so an hour at hundreds of tenants (tens of millions of
    records) fits in the bench process.
    """
    coordinates = [C.TOPIC, C.PARTITION, C.OFFSET]
    bronze = read_table(spark, settings, Table.BRONZE_EVENTS).select(
        *coordinates, F.unix_micros(C.KAFKA_TIMESTAMP).alias("kafka_us"), F.unix_micros(C.INGESTED_AT).alias("ingested_us"))
    classified = [
        read_table(spark, settings, table).select(
            *coordinates, F.unix_micros(C.PROCESSED_AT).alias("processed_us"), F.lit(table is Table.SILVER_EVENTS).alias("billed"))
        for table in (Table.SILVER_EVENTS, Table.SILVER_DUPLICATES, Table.SILVER_QUARANTINE)
    ]
    silver = classified[0].unionByName(classified[1]).unionByName(classified[2])
    # A record silver has not classified yet counts as billed: it may still become a billed event.
    columns = bronze.join(silver, coordinates, "left").select(
        "kafka_us", "ingested_us", "processed_us", F.coalesce("billed", F.lit(True)).alias("billed")).toArrow()
    gold_commits = sorted(
        row[0] / 1e6 for row in
        delta_table(spark, settings, Table.GOLD_HOURLY).history().filter(F.col("operation") == "MERGE")
        .select(F.unix_micros("timestamp")).collect())

    times = {"produced": _seconds(columns, "kafka_us"), "bronze": _seconds(columns, "ingested_us"),
             "silver": _seconds(columns, "processed_us"),
             "billed": columns.column("billed").to_numpy(zero_copy_only=False).astype(bool)}
    del columns
    if np.isnan(times["produced"]).any() or np.isnan(times["bronze"]).any():
        raise BenchError(f"bronze at {table_path(settings, Table.BRONZE_EVENTS)} has rows without a Kafka timestamp "
                         "or ingested_at, so their latency is unknown; bronze writes both for every record")
    times["gold"] = first_commit_after(np.asarray(gold_commits), times["silver"])
    times["gold"][~times["billed"]] = np.nan
    return times, gold_commits


def _seconds(columns, name: str) -> np.ndarray:
    """Convert an Arrow column of epoch microseconds to epoch seconds, with NaN for null."""
    return columns.column(name).to_numpy(zero_copy_only=False).astype(float) / 1e6


def _none_if_nan(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def first_commit_after(commits: np.ndarray, moments: np.ndarray) -> np.ndarray:
    """Return, per moment, the first commit strictly after it; NaN when none is, or the moment is NaN.

    ``commits`` must be sorted.
    """
    # NOTE: a gold batch that was already running when the silver commit
    # landed may commit first without the event, so gold times (and the
    # latencies built on them) are early by at most one gold batch duration.
    # searchsorted places NaN after every commit, so a NaN moment lands on the NaN pad too.
    padded = np.append(commits, np.nan)
    return padded[np.searchsorted(commits, moments, side="right")]


def measure_latencies(spark: SparkSession, settings: Settings) -> dict:
    """Return ingestion (Kafka → bronze), processing (bronze → gold) and end-to-end latencies in seconds.

    Processing and end-to-end cover the billed events that reached gold.
    """
    times, gold_commits = record_time_columns(spark, settings)
    in_gold = ~np.isnan(times["gold"])
    return {
        "ingestion": times["bronze"] - times["produced"],
        "processing": (times["gold"] - times["bronze"])[in_gold],
        "end_to_end": (times["gold"] - times["produced"])[in_gold],
        "gold_commits": gold_commits,
        "bronze_rows": len(times["produced"]),
    }


def tenant_load(spark_factory, environment: BenchEnvironment, scale: dict, result) -> None:
    """Measure latency per stage, throughput and exactness for N tenants at 10 events/s each.

    ``duration_seconds`` of event time go out ``speedup`` times as fast as
    real time, or as fast as the producer sends with ``speedup`` None (the
    streams then drain a backlog, and the latencies measure that backlog).
    """
    runs = []
    # Set before the loop so that runs finished before an early stop are still written.
    result.figures["runs"] = runs
    exact = True
    for tenants in scale["tenants"]:
        environment.with_overrides(**{"lake.root": str(environment.folder / f"lake-{tenants}"),
                                      "kafka.topic": f"usage-events-{tenants}"})
        environment.start_broker()
        profile = synthetic_profile(tenants, scale["duration_seconds"])
        live = run_live_load(environment, profile, scale["drain_timeout_seconds"], speedup=scale["speedup"])
        run = summarize_live_run(spark_factory(), environment.settings, live, tenants)
        exact = exact and run["billing"]["exact"]
        runs.append(run)
        result.add_headline(f"{tenants} tenants: events/s offered / through gold",
                            f"{run['offered_events_per_second']} / {run['gold_events_per_second']}", "")
        result.add_headline(f"{tenants} tenants: {run['event_seconds']} s of event time published / through gold, "
                            "× real time", f"{run['speedup_offered']} / {run['speedup_through_gold']}",
                            "as far as the machine allows")
        result.add_headline(f"{tenants} tenants: freshness p50 / p95 (Kafka → gold, s)",
                            f"{run['latency_seconds']['end_to_end']['p50']} / {run['latency_seconds']['end_to_end']['p95']}",
                            "≤ 3 / ≤ 6 at 10,000 events/s")
        result.add_headline(f"{tenants} tenants: ingestion p50 / p95 (Kafka → bronze, s)",
                            f"{run['latency_seconds']['ingestion']['p50']} / {run['latency_seconds']['ingestion']['p95']}", "")
        result.add_headline(f"{tenants} tenants: processing p50 / p95 (bronze → gold, s)",
                            f"{run['latency_seconds']['processing']['p50']} / {run['latency_seconds']['processing']['p95']}", "")
    result.billing_exact = exact


def summarize_live_run(spark: SparkSession, settings: Settings, live: dict, tenants: int) -> dict:
    load: PublishedLoad = live["load"]
    latencies = measure_latencies(spark, settings)
    exactness = check_gold_against_ground_truth(spark, settings, load.ground_truth)
    publish_seconds = live["published_until"] - live["published_at"]
    gold_commits = [moment for moment in latencies["gold_commits"] if moment >= live["published_at"]]
    # A run that did not catch up has no time to its last gold commit, so no gold rate either.
    gold_seconds = (max(gold_commits) - live["published_at"]) if gold_commits and live["caught_up"] else None
    event_seconds = live["event_seconds"]
    return {
        "tenants": tenants,
        "records_published": load.report.delivered,
        "load_summary": load.summary,
        "event_seconds": event_seconds,
        "publish_seconds": round(publish_seconds, 2),
        "gold_seconds": round(gold_seconds, 2) if gold_seconds else None,
        "speedup_offered": round(event_seconds / publish_seconds, 2),
        "speedup_through_gold": round(event_seconds / gold_seconds, 2) if gold_seconds else None,
        "offered_events_per_second": round(load.report.delivered / publish_seconds, 1),
        "gold_events_per_second": round(load.report.delivered / gold_seconds, 1) if gold_seconds else None,
        "caught_up_before_timeout": live["caught_up"],
        "latency_seconds": {stage: summarize(latencies[stage]) for stage in ("ingestion", "processing", "end_to_end")},
        "gold_commits": len(gold_commits),
        "resources": live["resources"].summary(),
        "billing": exactness.to_dict(),
    }


def memory(spark_factory, environment: BenchEnvironment, scale: dict, result) -> None:
    """Sample peak RSS of the stream process tree and streaming state size over one live run."""
    environment.start_broker()
    profile = synthetic_profile(scale["tenants"][0], scale["duration_seconds"])
    live = run_live_load(environment, profile, scale["drain_timeout_seconds"])
    sampler: ResourceSampler = live["resources"]
    spark = spark_factory()
    exactness = check_gold_against_ground_truth(spark, environment.settings, live["load"].ground_truth)
    summary = sampler.summary()

    result.figures.update({"resources": summary, "samples": sampler.samples,
                           "records_published": live["load"].report.delivered, "billing": exactness.to_dict()})
    result.billing_exact = exactness.is_exact
    result.add_headline("peak PSS of the stream process tree (driver JVM + Python), MiB", summary.get("peak_pss_mib"), "bounded")
    result.add_headline("peak PSS first half / second half, MiB",
                        f"{summary.get('peak_pss_mib_first_half')} / {summary.get('peak_pss_mib_second_half')}", "second ≈ first")
    result.add_headline("PSS at the end of the run, MiB", summary.get("last_pss_mib"), "")
    result.add_headline("peak RSS (shared pages counted once per process), MiB", summary.get("peak_rss_mib"), "")
    result.add_headline("streaming state size, max bytes", summary.get("state_bytes_max"), "bounded")
    result.add_headline("checkpoint folders at end, bytes", summary.get("checkpoint_bytes_last"), "")
    result.notes.append("The three queries use foreachBatch with MERGE and no stateful operator, so Spark keeps "
                        "no state store; deduplication state lives in the silver table itself.")


def capacity(spark_factory, environment: BenchEnvironment, scale: dict, result) -> None:
    """Drain each layer alone from what the layer before it wrote, then all three on a fresh lake."""
    environment.start_broker()
    profile = synthetic_profile(scale["tenants"][0], scale["duration_seconds"])
    load = environment.publish_load(profile)
    stages = {}
    result.figures.update({"records_published": load.report.delivered, "stages": stages})
    for layer in ALL_LAYERS:
        stages[layer] = environment.run_stream_once(layer, log_name=f"capacity-{layer}")[0]
    staged_settings = environment.settings

    environment.with_overrides(**{"lake.root": str(environment.folder / "lake-end-to-end")})
    started = time.monotonic()
    end_to_end_runs = environment.run_stream_once("all", log_name="capacity-end-to-end")
    process_seconds = time.monotonic() - started
    stream_seconds = sum(run["seconds"] for run in end_to_end_runs)

    spark = spark_factory()
    staged = check_gold_against_ground_truth(spark, staged_settings, load.ground_truth)
    end_to_end = check_gold_against_ground_truth(spark, environment.settings, load.ground_truth)
    result.billing_exact = staged.is_exact and end_to_end.is_exact
    result.figures["silver_profile"] = profile_silver_batch(spark, staged_settings, environment.folder / "lake-profile")
    result.figures.update({
        "records_published": load.report.delivered, "load_summary": load.summary, "stages": stages,
        "end_to_end_runs": end_to_end_runs, "end_to_end_stream_seconds": round(stream_seconds, 2),
        "end_to_end_process_seconds": round(process_seconds, 2),
        "end_to_end_events_per_second": round(load.report.delivered / stream_seconds, 1),
        "billing_staged": staged.to_dict(), "billing_end_to_end": end_to_end.to_dict(),
    })
    targets = {"bronze": 250_000, "silver": 60_000, "gold": 300_000}
    for layer, run in stages.items():
        result.add_headline(f"{layer} alone, input rows/s", run["rows_per_second"],
                            f"≥ {targets[layer]:,} ({run['rows_per_second'] / targets[layer]:.1%} of target)")
    rate = result.figures["end_to_end_events_per_second"]
    result.add_headline("end to end, records/s (stream time, all three layers in turn)", rate,
                        f"≥ 40,000 ({rate / 40_000:.1%} of target)")
    result.add_headline("end to end incl. Spark start-up, s", round(process_seconds, 1), "")


def scaling(spark_factory, environment: BenchEnvironment, scale: dict, result) -> None:
    """Drain the same pre-filled topic with Spark on local[1], then on local[2]."""
    environment.start_broker()
    profile = synthetic_profile(scale["tenants"][0], scale["duration_seconds"])
    load = environment.publish_load(profile)
    runs, lakes = {}, {}
    for master in ("local[1]", "local[2]"):
        name = master.replace("[", "-").replace("]", "")
        settings = environment.with_overrides(**{"spark.master": master,
                                                 "lake.root": str(environment.folder / f"lake-{name}")})
        layer_runs = environment.run_stream_once("all", log_name=f"scaling-{name}")
        seconds = sum(run["seconds"] for run in layer_runs)
        runs[master] = {"layers": layer_runs, "stream_seconds": round(seconds, 2),
                        "events_per_second": round(load.report.delivered / seconds, 1)}
        lakes[master] = settings

    spark = spark_factory()
    exact = True
    for master, settings in lakes.items():
        report = check_gold_against_ground_truth(spark, settings, load.ground_truth)
        runs[master]["billing"] = report.to_dict()
        exact = exact and report.is_exact
        result.add_headline(f"{master}: end to end records/s", runs[master]["events_per_second"], "")
    speedup = runs["local[2]"]["events_per_second"] / runs["local[1]"]["events_per_second"]
    result.add_headline("speed-up local[2] over local[1]", round(speedup, 2), "≤ 2 on 2 cores")
    result.figures.update({"records_published": load.report.delivered, "runs": runs, "speedup": round(speedup, 3)})
    result.billing_exact = exact


def profile_silver_batch(spark: SparkSession, settings: Settings, profile_lake: Path, top: int = 12) -> dict:
    """Run one silver batch over a copy of bronze under cProfile; return where the driver waited.

    The batch runs on the driver's thread with ``process_bronze_batch``, the
    function the silver stream calls per micro-batch, so cumulative times of
    the pipeline functions show which Spark actions (MERGE, collect, history)
    take the batch's time. The JVM work shows as time inside those calls.
    """
    import cProfile
    import pstats
    import shutil

    from pipelines.silver.stream import create_silver_tables, process_bronze_batch

    profile_settings = settings.__class__(**{**settings.__dict__, "lake": settings.lake.__class__(
        root=str(profile_lake), checkpoint_root=str(profile_lake / "_checkpoints"), catalog=None)})
    shutil.copytree(table_path(settings, Table.BRONZE_EVENTS), table_path(profile_settings, Table.BRONZE_EVENTS))
    create_silver_tables(spark, profile_settings)
    bronze = read_table(spark, profile_settings, Table.BRONZE_EVENTS)

    profiler = cProfile.Profile()
    started = time.monotonic()
    profiler.enable()
    counts = process_bronze_batch(bronze, 0, profile_settings)
    profiler.disable()
    seconds = time.monotonic() - started

    stats = pstats.Stats(profiler)
    calls = []
    for (file_name, _, function), (_, _, _, cumulative, _) in stats.stats.items():
        if "/pipelines/" in file_name and "/bench/" not in file_name:
            calls.append({"function": f"{Path(file_name).stem}.{function}", "cumulative_seconds": round(cumulative, 2)})
    calls.sort(key=lambda call: -call["cumulative_seconds"])
    return {"batch_seconds": round(seconds, 2), "counts": counts, "bronze_rows": bronze.count(), "functions": calls[:top]}
