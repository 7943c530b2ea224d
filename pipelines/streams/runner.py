"""Run the bronze, silver and gold queries, once or continuously, with progress.

Progress comes from each query's ``lastProgress``: batch id, input rows and
rate are logged as batches complete, and a ``StreamRun`` sums them per layer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from pipelines.bronze import ingest as bronze
from pipelines.config import Settings
from pipelines.gold import stream as gold
from pipelines.silver import stream as silver
from pipelines.streams.checkpoints import explained_checkpoint_failures
from pipelines.tables import checkpoint_path

log = logging.getLogger(__name__)

LAYERS: dict[str, Callable[[SparkSession, Settings, bool], StreamingQuery]] = {
    "bronze": bronze.start_bronze_stream,
    "silver": silver.start_silver_stream,
    "gold": gold.start_gold_stream,
}
QUERY_NAMES = {"bronze": bronze.QUERY_NAME, "silver": silver.QUERY_NAME, "gold": gold.QUERY_NAME}
POLL_SECONDS = 2.0
# How long a continuous run waits for a layer's first trigger before it starts
# the next layer anyway (a first batch over a large backlog can take minutes).
FIRST_TRIGGER_WAIT_SECONDS = 30.0


@dataclass
class LayerRun:
    """What one query did in one run: batches, input rows and wall time."""

    layer: str
    batches: int = 0
    input_rows: int = 0
    seconds: float = 0.0
    seen_batch_ids: set[int] = field(default_factory=set, repr=False)

    @property
    def rows_per_second(self) -> float:
        return self.input_rows / self.seconds if self.seconds > 0 else 0.0


def run_layers_once(spark: SparkSession, settings: Settings, layers: list[str] | None = None) -> list[LayerRun]:
    """Run each layer's query in ``availableNow`` mode, one after the other.

    Each layer drains everything its source holds when it starts, so running
    bronze, silver, gold in order leaves gold caught up with Kafka.
    """
    runs = []
    for layer in layers or list(LAYERS):
        started = time.monotonic()
        run = LayerRun(layer)
        with _checkpoint_failures(settings, layer):
            query = LAYERS[layer](spark, settings, True)
            _wait_with_progress(query, run)
        run.seconds = time.monotonic() - started
        log.info("%s caught up: %d batches, %d input rows in %.1fs (%.0f rows/s)",
                 layer, run.batches, run.input_rows, run.seconds, run.rows_per_second)
        runs.append(run)
    return runs


def run_layers_continuously(spark: SparkSession, settings: Settings, layers: list[str] | None = None,
                            timeout_seconds: float | None = None) -> list[LayerRun]:
    """Start the queries, upstream first, and run until one fails, Ctrl-C or timeout."""
    names = layers or list(LAYERS)
    queries: dict[str, StreamingQuery] = {}
    runs = {name: LayerRun(name) for name in names}
    try:
        _start_in_order(spark, settings, names, queries)
        started = time.monotonic()
        while timeout_seconds is None or time.monotonic() - started < timeout_seconds:
            for name, query in queries.items():
                with _checkpoint_failures(settings, name):
                    if query.exception() is not None:
                        raise query.exception()
                _record_progress(query, runs[name])
            time.sleep(POLL_SECONDS)
    finally:
        # Queries started before a failure or a Ctrl-C during the start-up are stopped too.
        for query in queries.values():
            query.stop()
    for run in runs.values():
        run.seconds = time.monotonic() - started
    return list(runs.values())


def _start_in_order(spark: SparkSession, settings: Settings, names: list[str],
                    queries: dict[str, StreamingQuery]) -> None:
    """Start the first layer, wait for its first trigger, then start the others; add each to ``queries``.

    On two cores, three queries started at once share the cores for their
    cold first batches, so bronze, the one that drains Kafka, commits last.
    Started alone, bronze commits its first batch after a restart sooner.
    Silver and gold then start together, so gold's cold first batch runs
    beside silver's instead of after it.
    """
    first, *others = names
    queries[first] = _start_query(spark, settings, first)
    if others:
        with _checkpoint_failures(settings, first):
            _wait_for_first_trigger(queries[first], first, FIRST_TRIGGER_WAIT_SECONDS)
    for name in others:
        queries[name] = _start_query(spark, settings, name)


def _checkpoint_failures(settings: Settings, layer: str):
    return explained_checkpoint_failures(layer, checkpoint_path(settings, QUERY_NAMES[layer]))


def _start_query(spark: SparkSession, settings: Settings, layer: str) -> StreamingQuery:
    started = time.monotonic()
    with _checkpoint_failures(settings, layer):
        query = LAYERS[layer](spark, settings, False)
    log.info("%s query started in %.1fs", layer, time.monotonic() - started)
    return query


def _wait_for_first_trigger(query: StreamingQuery, layer: str, timeout_seconds: float) -> None:
    """Wait until ``query`` reports its first trigger, fails or ``timeout_seconds`` pass."""
    started = time.monotonic()
    while query.isActive and query.lastProgress is None and time.monotonic() - started < timeout_seconds:
        query.awaitTermination(0.2)
    if query.exception() is not None:
        raise query.exception()

    progress = query.lastProgress
    if progress is None:
        log.info("%s reported no trigger in %gs; starting the next layer", layer, timeout_seconds)
        return
    durations = progress.get("durationMs", {})
    log.info("%s first trigger: batch %s, %s rows in %.1fs (%s)", layer, progress.get("batchId"),
             progress.get("numInputRows"), time.monotonic() - started,
             ", ".join(f"{step} {ms / 1000:.1f}s" for step, ms in sorted(durations.items())))


def _wait_with_progress(query: StreamingQuery, run: LayerRun) -> None:
    while query.isActive:
        query.awaitTermination(POLL_SECONDS)
        _record_progress(query, run)
    if query.exception() is not None:
        raise query.exception()
    _record_progress(query, run)


def _record_progress(query: StreamingQuery, run: LayerRun) -> None:
    for progress in query.recentProgress:
        batch_id = progress.get("batchId")
        rows = int(progress.get("numInputRows", 0))
        # An idle trigger reports the id of the next batch with no rows, so
        # only a progress with rows marks its batch as counted.
        if batch_id is None or rows == 0 or batch_id in run.seen_batch_ids:
            continue
        run.seen_batch_ids.add(batch_id)
        run.batches += 1
        run.input_rows += rows
        log.info("%s batch %s: %d rows (%.0f rows/s processed), %d rows so far",
                 run.layer, batch_id, rows, float(progress.get("processedRowsPerSecond") or 0.0), run.input_rows)
