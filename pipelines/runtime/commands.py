"""``meterhouse kafka start|stop|status`` and ``meterhouse jars``."""

from __future__ import annotations

import argparse

from pipelines.config import Settings
from pipelines.runtime.kafka_broker import LocalBroker, ensure_topic


def register_commands(subparsers: argparse._SubParsersAction) -> None:
    kafka = subparsers.add_parser("kafka", help="start, stop or probe the local KRaft broker")
    kafka.add_argument("action", choices=["start", "stop", "status"])
    kafka.set_defaults(handler=run_kafka)

    jars = subparsers.add_parser("jars", help="fetch and cache the Spark and Kafka jars")
    jars.set_defaults(handler=run_jars)


def run_kafka(settings: Settings, args: argparse.Namespace) -> int:
    broker = LocalBroker(settings.broker)
    if args.action == "start":
        status = broker.start()
        ensure_topic(settings.kafka)
    elif args.action == "stop":
        status = broker.stop()
    else:
        status = broker.status()
    print(status.describe())
    return 0 if args.action == "stop" or status.is_answering else 1


def run_jars(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.runtime.jars import main

    main()
    return 0
