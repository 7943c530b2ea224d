"""``bench sustained-rate``: the highest offered rate at which the pipeline's lag stops growing.

Each step publishes a synthetic load in real time at one rate to a fresh topic
and lake while the three streams run continuously, then rebuilds each layer's
lag in records from the lake's timestamps (see ``lag``). The pipeline sustains
a rate when the end-to-end lag (records produced but not yet visible in gold)
has a least-squares slope below 1 % of the rate over the measurement window,
which starts after a warm-up. After a sustained step the next step offers 1.5
times the rate, after a step that fell behind 0.6 times, and once a sustained
rate lies below one that fell behind, the middle of the two. The search runs a
fixed number of steps and reports the highest sustained rate and the lowest
rate that fell behind.
"""

from __future__ import annotations

import logging

from pipelines.bench.environment import BenchEnvironment
from pipelines.bench.exactness import check_gold_against_ground_truth
from pipelines.bench.lag import LAYERS, lag_trend
from pipelines.bench.stats import summarize
from pipelines.bench.streaming import collect_record_times, run_live_load, synthetic_profile

log = logging.getLogger(__name__)

RAISE_FACTOR = 1.5
LOWER_FACTOR = 0.6


def sustained_rate(spark_factory, environment: BenchEnvironment, scale: dict, result) -> None:
    """Search for the highest end-to-end rate that the pipeline sustains for ``window_seconds``."""
    environment.start_broker()
    tenants = scale["tenants"][0]
    rate = float(scale["start_rate"])
    steps = []
    result.figures.update({"tenants": tenants, "window_seconds": scale["window_seconds"],
                           "warmup_seconds": scale["warmup_seconds"], "steps": steps})
    for step in range(scale["steps"]):
        run = run_rate_step(spark_factory, environment, scale, tenants, rate, step)
        steps.append(run)
        log.info("sustained-rate step %d: %.0f events/s offered, end-to-end lag slope %.2f records/s, %s",
                 step, run["offered_events_per_second"], run["lag"]["gold"]["slope_records_per_second"],
                 "sustained" if run["sustained"] else "fell behind")
        rate = next_rate(steps)

    summarize_search(steps, result)


def next_rate(steps: list[dict]) -> float:
    """Return the rate of the next step: halfway into a bracket once found, else 1.5× up or 0.6× down."""
    sustained = [step["offered_events_per_second"] for step in steps if step["sustained"]]
    behind = [step["offered_events_per_second"] for step in steps if not step["sustained"]]
    if sustained and behind and max(sustained) < min(behind):
        return (max(sustained) + min(behind)) / 2
    last = steps[-1]
    factor = RAISE_FACTOR if last["sustained"] else LOWER_FACTOR
    return last["offered_events_per_second"] * factor


def run_rate_step(spark_factory, environment: BenchEnvironment, scale: dict, tenants: int, rate: float,
                  step: int) -> dict:
    """Publish ``rate`` events/s for warm-up plus window on a fresh topic and lake; return lag and latency figures."""
    settings = environment.use_fresh_lake_and_topic(f"step-{step}")
    seconds = scale["warmup_seconds"] + scale["window_seconds"]
    profile = synthetic_profile(tenants, seconds, rate=rate / tenants, seed=7 + step)
    # A step that fell behind is drained only up to its timeout, because its
    # lag is measured while publishing and a longer wait adds nothing.
    live = run_live_load(environment, profile, drain_timeout_seconds=scale["drain_timeout_seconds"])

    # NOTE: from the second step on, the bench's own Spark session (idle)
    # stays up while the streams run, holding memory but no work.
    spark = spark_factory()
    records, _ = collect_record_times(spark, settings)
    window_start = live["published_at"] + scale["warmup_seconds"]
    window_end = live["published_until"]
    offered = live["load"].report.delivered / (live["published_until"] - live["published_at"])
    trends = {layer: lag_trend(records, layer, window_start, window_end) for layer in LAYERS}
    billed = [record.gold - record.produced for record in records
              if record.billed and record.gold is not None and window_start <= record.produced <= window_end]

    # Lag counts only records that reached bronze. Records left in Kafka when
    # the streams stopped would hide lag, so a step with any is not sustained.
    not_in_bronze = live["load"].report.delivered - len(records)
    run = {
        "step": step,
        "offered_events_per_second": round(offered, 1),
        "records_published": live["load"].report.delivered,
        "records_not_in_bronze": not_in_bronze,
        "sustained": trends["gold"].is_flat(offered) and not_in_bronze == 0,
        "lag": {layer: trend.to_dict() for layer, trend in trends.items()},
        "freshness_seconds": summarize(billed),
        "caught_up_before_timeout": live["caught_up"],
        "resources": live["resources"].summary(),
    }
    if live["caught_up"]:
        run["billing"] = check_gold_against_ground_truth(spark, settings, live["load"].ground_truth).to_dict()
    return run


def summarize_search(steps: list[dict], result) -> None:
    """Write the headline figures: highest sustained rate, lowest rate that fell behind, exactness of the drained steps."""
    sustained = [step for step in steps if step["sustained"]]
    behind = [step for step in steps if not step["sustained"]]
    checked = [step["billing"]["exact"] for step in steps if "billing" in step]
    # No drained step means nothing was compared: "not checked", not "not exact".
    result.billing_exact = all(checked) if checked else None

    best = max(sustained, key=lambda step: step["offered_events_per_second"]) if sustained else None
    result.figures["highest_sustained_events_per_second"] = best["offered_events_per_second"] if best else None
    result.figures["lowest_behind_events_per_second"] = (
        min(step["offered_events_per_second"] for step in behind) if behind else None)
    rate = result.figures["highest_sustained_events_per_second"]
    result.add_headline("highest offered rate with flat end-to-end lag, events/s", rate,
                        f"≥ 40,000 ({rate / 40_000:.1%} of target)" if rate else "≥ 40,000")
    result.add_headline("lowest offered rate that fell behind, events/s", result.figures["lowest_behind_events_per_second"], "")
    if best:
        freshness = best["freshness_seconds"]
        result.add_headline("freshness at the highest sustained rate, p50 / p95 (Kafka → gold, s)",
                            f"{freshness['p50']} / {freshness['p95']}", "")
    for step in steps:
        gold = step["lag"]["gold"]
        result.add_headline(f"step {step['step']}: {step['offered_events_per_second']} events/s offered, "
                            "end-to-end lag slope (records/s), max lag first / second half",
                            f"{gold['slope_records_per_second']}, {gold['first_half_max']} / {gold['second_half_max']}",
                            "slope ≤ 1 % of the rate")
    if len(checked) < len(steps):
        result.notes.append("Steps that did not catch up within the drain timeout were not checked for exactness; "
                            "their lag figures are still measured.")
