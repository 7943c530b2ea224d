"""Replay recorded micro-batches of a kept bench lake, timing each one.

A sustained-rate or tenant-load run with ``--keep`` leaves its lake and the
streams' checkpoints behind. This copies that lake to a scratch folder, rolls
the target tables back to the version before batch FIRST, and feeds batches
FIRST to LAST again through ``process_bronze_batch`` (silver) or
``process_silver_batch`` (gold), alone on the machine. The batch inputs are
rebuilt from the source table's versions that the checkpoint's offset files
name, so each replayed batch contains the same records as the recorded one.

    python -m pipelines.bench.replay --lake DIR/lake-step-0 --layer silver --first 3 --last 18

NOTE: the roll-back assumes that target version N is the state after batch
N. Three things must be true for that. Batch 0 wrote nothing, as when the
streams start before the first record (the bench does this). Every batch
from 1 to FIRST - 1 wrote rows to every target table. And no OPTIMIZE ran in
between, while the silver stream's compaction adds a commit every
``ingest.compact_every_batches`` batches.

This module is a profiling aid, not a scenario: it writes no result file,
only log lines.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from pipelines.config import DEFAULT_CONF, load_settings
from pipelines.gold.stream import QUERY_NAME as GOLD_QUERY
from pipelines.gold.stream import process_silver_batch
from pipelines.session import build_local_session
from pipelines.silver.stream import QUERY_NAME as SILVER_QUERY
from pipelines.silver.stream import process_bronze_batch
from pipelines.tables import table_path
from pipelines.vocabulary import Table

log = logging.getLogger(__name__)

LAYERS = {
    "silver": (SILVER_QUERY, Table.BRONZE_EVENTS, ("topic", "partition", "offset"),
               (Table.SILVER_EVENTS, Table.SILVER_DUPLICATES, Table.SILVER_QUARANTINE)),
    "gold": (GOLD_QUERY, Table.SILVER_EVENTS, ("tenant_id", "event_id"), (Table.GOLD_HOURLY, Table.GOLD_DAILY)),
}


def source_version_after(checkpoint: Path, batch_id: int) -> int:
    """The source table version that batch ``batch_id`` read up to (exclusive), from its offsets file."""
    path = checkpoint / "offsets" / str(batch_id)
    offset = json.loads(path.read_text().splitlines()[-1])
    # index -1: the batch ended at a version boundary. Any other index means it
    # stopped inside a version (a size limit per trigger), which the version
    # arithmetic here cannot rebuild.
    if offset.get("index", -1) != -1:
        raise ValueError(f"{path}: batch {batch_id} ended inside source version {offset['reservoirVersion']} "
                         f"(index {offset['index']}); replay only batches that end at a version boundary")
    return int(offset["reservoirVersion"])


def batch_input(spark: SparkSession, source: str, keys: tuple[str, ...], first_version: int, end_version: int) -> DataFrame:
    """Rows of the source table added in versions [first_version, end_version)."""
    after = spark.read.format("delta").option("versionAsOf", end_version - 1).load(source)
    before = spark.read.format("delta").option("versionAsOf", first_version - 1).load(source)
    return after.join(before.select(*keys), list(keys), "left_anti")


def replay(lake: Path, layer: str, first: int, last: int, overrides: dict[str, str]) -> list[float]:
    """Replay batches ``first`` to ``last`` of ``layer`` on a copy of ``lake``; return each batch's seconds."""
    scratch = Path(tempfile.mkdtemp(prefix="meterhouse-replay-")) / "lake"
    shutil.copytree(lake, scratch)
    settings = load_settings(DEFAULT_CONF, {"lake.root": str(scratch), **overrides})
    spark = build_local_session(settings)
    query, source_table, keys, targets = LAYERS[layer]
    checkpoint = scratch / "_checkpoints" / query
    source = table_path(settings, source_table)

    for target in targets:
        spark.sql(f"RESTORE TABLE delta.`{table_path(settings, target)}` TO VERSION AS OF {first - 1}")

    durations = []
    for batch_id in range(first, last + 1):
        rows = batch_input(spark, source, keys, source_version_after(checkpoint, batch_id - 1),
                           source_version_after(checkpoint, batch_id)).cache()
        count = rows.count()
        started = time.monotonic()
        if layer == "silver":
            process_bronze_batch(rows, batch_id, settings)
        else:
            process_silver_batch(rows, batch_id, settings)
        durations.append(time.monotonic() - started)
        rows.unpersist()
        log.info("replayed %s batch %d: %d input rows in %.1fs", layer, batch_id, count, durations[-1])

    log.info("replayed %s batches %d to %d in %.1fs", layer, first, last, sum(durations))
    shutil.rmtree(scratch.parent, ignore_errors=True)
    return durations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bench.replay", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, required=True, help="a kept bench lake, e.g. DIR/lake-step-0")
    parser.add_argument("--layer", choices=sorted(LAYERS), required=True)
    parser.add_argument("--first", type=int, required=True, help="first batch id to replay (at least 1)")
    parser.add_argument("--last", type=int, required=True)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the replay, e.g. ingest.compact_every_batches=5")
    args = parser.parse_args(argv)
    if not 1 <= args.first <= args.last:
        parser.error(f"--first must be at least 1 and at most --last, found {args.first} and {args.last}")
    # Compaction is off unless asked for, so the timings are those of the batches alone.
    overrides = {"spark.master": "local[2]", "spark.shuffle_partitions": "2", "ingest.compact_every_batches": "0"}
    overrides.update(item.split("=", 1) for item in args.set)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    replay(args.lake, args.layer, args.first, args.last, overrides)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
