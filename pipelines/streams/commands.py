"""``meterhouse stream``: run the bronze, silver and gold queries."""

from __future__ import annotations

import argparse
import logging
import time

from pipelines.config import Settings
from pipelines.streams.runner import LAYERS, run_layers_continuously, run_layers_once

log = logging.getLogger(__name__)


def register_commands(subparsers: argparse._SubParsersAction) -> None:
    stream = subparsers.add_parser("stream", help="run the bronze, silver and gold streams")
    stream.add_argument("--layer", choices=[*LAYERS, "all"], default="all", help="which query to run (default: all)")
    stream.add_argument("--once", action="store_true",
                        help="process what is available now and stop (for scheduled incremental runs)")
    stream.add_argument("--timeout", type=float, default=None, help="stop continuous streams after this many seconds")
    stream.set_defaults(handler=run_stream)


def run_stream(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.session import get_or_build_session

    layers = list(LAYERS) if args.layer == "all" else [args.layer]
    if "bronze" in layers and settings.environment == "local":
        from pipelines.runtime.kafka_broker import check_topic

        # Only on the embedded default: a cluster's Kafka may need client settings
        # (a JKS trust store, for one) that the librdkafka check cannot use.
        check_topic(settings.kafka)

    started = time.monotonic()
    spark = get_or_build_session(settings)
    log.info("Spark session ready in %.1fs", time.monotonic() - started)
    if args.once:
        runs = run_layers_once(spark, settings, layers)
    else:
        runs = run_layers_continuously(spark, settings, layers, args.timeout)
    for run in runs:
        print(f"{run.layer:<7} {run.batches:>5} batches {run.input_rows:>10} rows {run.seconds:>8.1f} s "
              f"{run.rows_per_second:>10.0f} rows/s")
    return 0
