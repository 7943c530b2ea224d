"""``bench faults``: kill -9 cycles, a broker outage, a removed checkpoint commit, and a kill and an outage under live load.

Every phase ends with the billing check against the generator's ground truth,
which must show no lost and no doubled usage.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from pathlib import Path

from pyspark.sql import SparkSession

from pipelines.bench.environment import (
    STREAM_QUERY_NAMES,
    BenchEnvironment,
    PublishedLoad,
    kill_process_group,
    stop_stream,
    wait_for_new_commit,
)
from pipelines.bench.errors import BenchError
from pipelines.bench.exactness import check_gold_against_ground_truth
from pipelines.bench.lag import fault_latency
from pipelines.bench.stats import summarize
from pipelines.bench.streaming import (
    ALL_LAYERS,
    RECOVERY_TIMEOUT_SECONDS,
    collect_record_times,
    synthetic_profile,
    wait_until_quiet,
    wait_until_tables_exist,
)
from pipelines.config import Settings
from pipelines.tables import checkpoint_path

log = logging.getLogger(__name__)

# Long enough for the stream's Kafka consumer to notice. The producer queues
# the records sent meanwhile and delivers them once the broker is back, because
# librdkafka fails a record only after message.timeout.ms (300 s by default,
# which the publisher does not change).
BROKER_OUTAGE_SECONDS = 5
# Seconds from a relaunch to the first committed batch that the restart target allows.
RESTART_TARGET_SECONDS = 20


def faults(spark_factory, environment: BenchEnvironment, scale: dict, result, rng: random.Random | None = None) -> None:
    """Run kill -9 cycles, a broker stop and start, a removed checkpoint commit, then both faults under load; check exactness."""
    rng = rng or random.Random(scale.get("seed", 11))
    records_per_batch = max(50, scale["tenants"][0] * scale["duration_seconds"] * 10 // scale["batches"])
    environment.with_overrides(**{"kafka.max_offsets_per_trigger": str(records_per_batch)})
    environment.start_broker()
    from pipelines.load.generator import LoadGenerator
    from pipelines.load.ground_truth import write_ground_truth
    from pipelines.load.publisher import KafkaPublisher

    profile = synthetic_profile(scale["tenants"][0], scale["duration_seconds"])
    generator = LoadGenerator(profile, environment.settings.meters)
    records = list(generator.records())
    ground_truth = environment.folder / "faults-ground-truth.csv"
    write_ground_truth(generator.totals.totals(), ground_truth)
    first_half, second_half = records[: len(records) // 2], records[len(records) // 2:]
    KafkaPublisher(environment.settings.kafka).publish(first_half)

    # Each phase stores its figures at once, so a run stopped later still reports them.
    result.figures["records_published"] = len(records)
    kill_cycles = run_kill_cycles(environment, scale["kill_cycles"], rng)
    result.figures["kill_cycles"] = kill_cycles
    broker_fault, process = run_broker_restart(environment, second_half)
    result.figures["broker_restart"] = broker_fault
    checkpoint_fault = run_checkpoint_removal(environment, process)
    result.figures["checkpoint_commit_removed"] = checkpoint_fault
    environment.run_stream_once("all", log_name="faults-final")
    fault_settings = environment.settings

    # A failed phase under load must not cost the figures of the phases above.
    # Both run before the bench opens its own Spark session, so no idle driver
    # shares the machine with the streams.
    runs = {fault: run_under_load_or_note(environment, scale, rng, fault, result) for fault in RECOVERIES}
    under_load = {fault: summarize_or_note(spark_factory, run, result) for fault, run in runs.items() if run}

    report = check_gold_against_ground_truth(spark_factory(), fault_settings, ground_truth)
    recoveries = [cycle["recovery_seconds"] for cycle in kill_cycles if cycle["recovery_seconds"] is not None]
    under_load_exact = [latency["billing"]["exact"] for latency in under_load.values()
                        if latency is not None and "billing" in latency]
    result.billing_exact = report.is_exact and all(under_load_exact)
    result.figures.update({"records_published": len(records), "records_per_batch": records_per_batch,
                           "kill_cycles": kill_cycles, "broker_restart": broker_fault,
                           "checkpoint_commit_removed": checkpoint_fault, "recovery_seconds": summarize(recoveries),
                           "billing": report.to_dict()})
    result.add_headline("kill -9 cycles", len(kill_cycles), "")
    slowest = max(recoveries) if recoveries else None
    result.add_headline("recovery after kill -9, max s (relaunch → first committed batch)",
                        slowest, within_target(slowest, RESTART_TARGET_SECONDS))
    result.add_headline("broker stop/start: broker back → next bronze commit, s", broker_fault["recovery_seconds"], "")
    result.add_headline("last bronze commit file removed: relaunch → first committed batch, s",
                        checkpoint_fault["recovery_seconds"],
                        within_target(checkpoint_fault["recovery_seconds"], RESTART_TARGET_SECONDS))
    add_billing_headline(result, "billing difference vs ground truth", report.to_dict())
    for latency in under_load.values():
        if latency is not None:
            add_fault_under_load_headlines(result, latency)
    if any(latency is not None for latency in under_load.values()):
        result.notes.append(
            "Under load: freshness is back to normal from the first 5-second slice of production time after the "
            "relaunch (or the broker's return) from which on every slice's median freshness is at most the p95 "
            "measured before the fault.")


def run_under_load_or_note(environment: BenchEnvironment, scale: dict, rng: random.Random, fault: str,
                           result) -> dict | None:
    """Run one fault under load; on failure, note it in the result and return None."""
    try:
        return run_fault_under_load(environment, scale, rng, fault)
    except BenchError as error:
        _note_failure(result, fault, error)
        return None


def summarize_or_note(spark_factory, run: dict, result) -> dict | None:
    """Summarize one fault under load and store its figures; on failure, note it and return None."""
    try:
        latency = summarize_fault_under_load(spark_factory(), run)
    except BenchError as error:
        _note_failure(result, run["fault"], error)
        return None
    result.figures[f"{run['fault']}_under_load"] = latency
    return latency


def _note_failure(result, fault: str, error: BenchError) -> None:
    log.error("the %s under load failed: %s", FAULT_NAMES[fault], error)
    result.notes.append(f"The {FAULT_NAMES[fault]} under load failed and has no figures: {error}")


def run_kill_cycles(environment: BenchEnvironment, cycles: int, rng: random.Random) -> list[dict]:
    """Launch the streams, wait for a commit, ``kill -9`` them at a random moment; repeat."""
    results = []
    for cycle in range(cycles):
        known = {layer: set(environment.committed_batches(layer)) for layer in ALL_LAYERS}
        launched = time.time()
        process = environment.launch_stream(log_name=f"faults-cycle-{cycle}")
        committed = wait_for_new_commit(environment, ALL_LAYERS, launched, RECOVERY_TIMEOUT_SECONDS, known)
        delay = rng.uniform(0.0, 6.0)
        time.sleep(delay)
        kill_process_group(process)
        results.append({"cycle": cycle, "recovery_seconds": round(committed - launched, 2) if committed else None,
                        "killed_after_first_commit_seconds": round(delay, 2)})
        log.info("kill cycle %d: first commit %.1fs after relaunch, killed %.1fs later",
                 cycle, committed - launched if committed else float("nan"), delay)
    return results


def run_broker_restart(environment: BenchEnvironment, records) -> tuple[dict, object]:
    """Stop and start the broker under a running stream, then publish the rest of the load."""
    from pipelines.load.publisher import KafkaPublisher

    process = environment.launch_stream(log_name="faults-broker")
    wait_for_new_commit(environment, ALL_LAYERS, time.time(), RECOVERY_TIMEOUT_SECONDS,
                        {layer: set(environment.committed_batches(layer)) for layer in ALL_LAYERS})
    stopped_at = time.time()
    environment.broker.stop()
    time.sleep(BROKER_OUTAGE_SECONDS)
    environment.broker.start()
    back_at = time.time()
    known = {"bronze": set(environment.committed_batches("bronze"))}
    KafkaPublisher(environment.settings.kafka).publish(records)
    survived = process.poll() is None
    if not survived:
        # The outage failed the query; a scheduler would relaunch it, so the bench does too.
        log.warning("the stream exited with %s during the broker outage; relaunching it", process.returncode)
        process = environment.launch_stream(log_name="faults-broker-relaunch")
    committed = wait_for_new_commit(environment, ["bronze"], back_at, RECOVERY_TIMEOUT_SECONDS, known)
    log.info("broker stop/start: broker back %.1fs after the stop began, next bronze commit %.1fs later, "
             "stream survived: %s", back_at - stopped_at, committed - back_at if committed else float("nan"), survived)
    return {"broker_down_seconds": round(back_at - stopped_at, 2),
            "recovery_seconds": round(committed - back_at, 2) if committed else None,
            "stream_survived": survived}, process


def run_fault_under_load(environment: BenchEnvironment, scale: dict, rng: random.Random, fault: str) -> dict:
    """Publish a steady live load on a fresh topic and lake, inject ``fault`` midway and recover at once.

    ``fault`` is ``kill`` (``kill -9`` of the streams, then a relaunch) or
    ``broker`` (the broker stopped for a few seconds, then started). The
    fault falls at a random moment between 40 % and 60 % of the time that
    follows the warm-up. Returns the wall-clock marks and the load;
    ``recovered_at`` is when the streams were relaunched or the broker was back.
    """
    settings = environment.use_fresh_lake_and_topic(f"{fault}-under-load")
    # The earlier phases cap batches to get many of them. This phase measures
    # freshness, so the streams read whatever has arrived.
    environment.overrides.pop("kafka.max_offsets_per_trigger", None)
    tenants = scale["tenants"][0]
    seconds = scale["under_load_seconds"]
    warmup = scale["under_load_warmup_seconds"]
    profile = synthetic_profile(tenants, seconds, rate=scale["under_load_rate"] / tenants, seed=13)
    published: dict = {}
    publisher = threading.Thread(target=lambda: published.update(
        load=environment.publish_load(profile, realtime=True, name=f"{fault}-under-load")),
        name=f"{fault}-under-load-publisher", daemon=True)

    process = environment.launch_stream(log_name=f"faults-{fault}-under-load")
    try:
        wait_until_tables_exist(settings, process)
        published_at = time.time()
        publisher.start()
        time.sleep(warmup + (seconds - warmup) * rng.uniform(0.4, 0.6))
        # On a busy machine gold may not yet contain any record produced after the
        # warm-up, and the latency before the fault would then have no records.
        wait_for_gold_after(environment, published_at + warmup, deadline=published_at + seconds)
        fault_at = time.time()
        process, recovered_at = RECOVERIES[fault](environment, process)
        publisher.join()
        published_until = time.time()
        if "load" not in published:
            raise BenchError(f"publishing the load for the {FAULT_NAMES[fault]} under load failed; "
                             "see the log above for the Kafka error")
        caught_up = wait_until_quiet(environment, published_until, scale["drain_timeout_seconds"], process)
    finally:
        stop_stream(process)
    log.info("%s under load: fault %.1fs after publishing started, caught up: %s",
             FAULT_NAMES[fault], fault_at - published_at, caught_up)
    return {"load": published["load"], "published_at": published_at, "published_until": published_until,
            "fault_at": fault_at, "recovered_at": recovered_at, "caught_up": caught_up, "warmup_seconds": warmup,
            "fault": fault, "settings": settings}


def kill_and_relaunch(environment: BenchEnvironment, process):
    """``kill -9`` the stream process group and launch it again; return the new process and when it was launched."""
    kill_process_group(process)
    relaunched_at = time.time()
    return environment.launch_stream(log_name="faults-kill-under-load-relaunch"), relaunched_at


def restart_broker(environment: BenchEnvironment, process):
    """Stop the broker for a few seconds and start it; return the stream process and when the broker was back.

    The stream is relaunched only if the outage ended it, as a scheduler would.
    """
    environment.broker.stop()
    time.sleep(BROKER_OUTAGE_SECONDS)
    environment.broker.start()
    back_at = time.time()
    if process.poll() is not None:
        log.warning("the stream exited with %s during the broker outage; relaunching it", process.returncode)
        process = environment.launch_stream(log_name="faults-broker-under-load-relaunch")
    return process, back_at


RECOVERIES = {"kill": kill_and_relaunch, "broker": restart_broker}
FAULT_NAMES = {"kill": "kill -9", "broker": "broker stop/start"}


def wait_for_gold_after(environment: BenchEnvironment, since: float, deadline: float) -> None:
    """Wait until gold has committed records produced after ``since``, or until ``deadline``."""
    while time.time() < deadline and gold_commit_after(environment, since) is None:
        time.sleep(0.5)
    if gold_commit_after(environment, since) is None:
        log.warning("kill under load: gold contains no record produced after the warm-up by the end of publishing; "
                    "killing anyway, so the latency before the kill may be missing. Lengthen under_load_seconds.")


def gold_commit_after(environment: BenchEnvironment, since: float) -> float | None:
    """Return when gold committed the first batch containing records produced after ``since``, or None.

    Follows the checkpoints: the first bronze batch planned after ``since``,
    then the first silver batch planned after that one committed, then the
    first gold batch planned after the silver one committed.
    """
    moment = since
    for layer in ALL_LAYERS:
        planned = environment.planned_batches(layer)
        committed = environment.committed_batches(layer)
        later = [batch for batch, planned_at in planned.items() if planned_at > moment]
        if not later or min(later) not in committed:
            return None
        moment = committed[min(later)]
    return moment


def summarize_fault_under_load(spark: SparkSession, run: dict) -> dict:
    """Return baseline, peak and back-to-normal latency around the fault, and the billing check of that load."""
    settings: Settings = run["settings"]
    records, _ = collect_record_times(spark, settings)
    try:
        latency = fault_latency(records, run["published_at"] + run["warmup_seconds"], run["fault_at"],
                                run["recovered_at"])
    except ValueError as error:
        raise BenchError(f"{FAULT_NAMES[run['fault']]} under load: {error}") from error
    load: PublishedLoad = run["load"]
    figures = {
        "fault": run["fault"],
        "records_published": load.report.delivered,
        "records_not_in_bronze": load.report.delivered - len(records),
        "offered_events_per_second": round(load.report.delivered / (run["published_until"] - run["published_at"]), 1),
        "fault_after_seconds": round(run["fault_at"] - run["published_at"], 2),
        # Epoch seconds, so the latency figures can be recomputed from a kept lake.
        "marks": {key: round(run[key], 3) for key in ("published_at", "fault_at", "recovered_at", "published_until")},
        "caught_up_before_timeout": run["caught_up"],
        "latency": latency.to_dict(),
    }
    # A load that was not drained would read as lost usage, so only a drained one is checked.
    if run["caught_up"]:
        figures["billing"] = check_gold_against_ground_truth(spark, settings, load.ground_truth).to_dict()
    return figures


def within_target(seconds: float | None, limit: float) -> str:
    """Return the target cell of a time limit, saying whether it was met or by how much it was missed."""
    if seconds is None:
        return f"≤ {limit} (not measured)"
    if seconds <= limit:
        return f"≤ {limit} (met)"
    return f"≤ {limit} (missed by {seconds - limit:.1f} s)"


def add_billing_headline(result, figure: str, billing: dict) -> None:
    """Add the rows missing, extra and different against the ground truth as one headline row."""
    counts = (billing["missing_rows"], billing["unexpected_rows"], billing["different_rows"])
    verdict = "met" if counts == (0, 0, 0) else "missed"
    result.add_headline(f"{figure} (rows missing / extra / different)", " / ".join(str(count) for count in counts),
                        f"0 / 0 / 0 ({verdict})")


def add_fault_under_load_headlines(result, latency: dict) -> None:
    figures = latency["latency"]
    name = FAULT_NAMES[latency["fault"]]
    recovered = "relaunch" if latency["fault"] == "kill" else "broker back"
    result.add_headline(f"{name} under {latency['offered_events_per_second']} events/s: freshness before the fault "
                        "p50 / p95 (Kafka → gold, s)",
                        f"{figures['baseline_p50_seconds']} / {figures['baseline_p95_seconds']}", "")
    result.add_headline(f"{name} under load: peak freshness after the fault / increase over the p50 before, s",
                        f"{figures['peak_seconds']} / {figures['peak_increase_seconds']}", "")
    result.add_headline(f"{name} under load: {recovered} → freshness back to the p95 before, s",
                        figures["back_to_normal_seconds"], "")
    if "billing" in latency:
        add_billing_headline(result, f"{name} under load: billing difference vs ground truth", latency["billing"])


def run_checkpoint_removal(environment: BenchEnvironment, process) -> dict:
    """``kill -9`` the streams, delete bronze's last commit file, relaunch and time the first commit.

    The commit file goes together with its ``.crc`` checksum file, which is
    what a crash before the commit leaves behind: neither. A stale checksum
    alone makes Hadoop's local file system refuse to write the commit again.
    """
    kill_process_group(process)
    commits = environment.committed_batches("bronze")
    removed = max(commits) if commits else None
    if removed is not None:
        commit_folder = Path(checkpoint_path(environment.settings, STREAM_QUERY_NAMES["bronze"])) / "commits"
        (commit_folder / str(removed)).unlink()
        (commit_folder / f".{removed}.crc").unlink(missing_ok=True)
    known = {layer: set(environment.committed_batches(layer)) for layer in ALL_LAYERS}
    launched = time.time()
    relaunched = environment.launch_stream(log_name="faults-checkpoint")
    committed = wait_for_new_commit(environment, ALL_LAYERS, launched, RECOVERY_TIMEOUT_SECONDS, known)
    log.info("removed bronze commit %s: first commit %.1fs after relaunch", removed,
             committed - launched if committed else float("nan"))
    wait_until_quiet(environment, time.time(), RECOVERY_TIMEOUT_SECONDS, relaunched)
    stop_stream(relaunched)
    return {"removed_bronze_commit": removed,
            "recovery_seconds": round(committed - launched, 2) if committed else None}
