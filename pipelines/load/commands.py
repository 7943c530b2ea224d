"""``meterhouse generate`` and ``meterhouse replay google-cluster|focus``."""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from pipelines.config import Settings
from pipelines.load.datasets import (
    DATA_ROOT,
    DATA_SETS,
    FOCUS,
    default_target_month,
    month_start,
    parse_month,
    validate_target_month,
    verify_data_set,
)
from pipelines.load.errors import LoadError
from pipelines.load.events import UsageEvent, encode_event
from pipelines.load.focus import build_focus_events, read_focus_rows
from pipelines.load.generator import LoadGenerator, LoadProfile, default_start
from pipelines.load.google_cluster import build_google_cluster_events, read_task_events
from pipelines.load.ground_truth import write_ground_truth
from pipelines.load.publisher import KafkaPublisher

log = logging.getLogger(__name__)

TENANT_LISTS = {"generate": "conf/tenants/synthetic.csv", "google-cluster": "conf/tenants/google-cluster.csv",
                "focus": "conf/tenants/focus.csv"}


def register_commands(subparsers: argparse._SubParsersAction) -> None:
    generate = subparsers.add_parser("generate", help="publish synthetic usage events and write their expected totals")
    generate.add_argument("--tenants", type=int, default=10, help="number of synthetic tenants, 1 to 1000 (default 10)")
    generate.add_argument("--rate", type=float, default=1.0,
                          help="events per tenant per second of event time; each tenant draws ±20%% (default 1)")
    generate.add_argument("--duration", type=int, default=60, help="length of the load in seconds of event time (default 60)")
    generate.add_argument("--duplicates", type=float, default=0.02,
                          help="fraction of valid records re-delivered byte for byte (default 0.02)")
    generate.add_argument("--late", type=float, default=0.01,
                          help="fraction of arrivals that add an event 1 to 6 hours older than the stream (default 0.01)")
    generate.add_argument("--malformed", type=float, default=0.005,
                          help="fraction of arrivals replaced by a malformed record (default 0.005)")
    generate.add_argument("--seed", type=int, default=7, help="random seed; the same options give the same records (default 7)")
    generate.add_argument("--start", help="event time of the first arrival, ISO 8601 with offset; naive means UTC "
                                          "(default: start of the current UTC hour minus --duration)")
    generate.add_argument("--realtime", action="store_true",
                          help="pace sends by wall clock instead of publishing as fast as possible")
    generate.add_argument("--ground-truth", type=Path, metavar="PATH",
                          help="write expected gold.usage_hourly rows to this CSV and counts next to it, "
                               "with .summary.json in place of its suffix (gt.csv: gt.summary.json)")
    generate.set_defaults(handler=run_generate)

    replay = subparsers.add_parser("replay", help="publish a real data set from data/ as usage events")
    replay.add_argument("data_set", choices=sorted(DATA_SETS), help="which data set to replay")
    replay.add_argument("--month", help="target month YYYY-MM that the data moves to "
                                        "(default: the most recent complete month with at least 30 days)")
    replay.add_argument("--limit", type=int, help="publish only the first N events, in publishing order")
    replay.add_argument("--data-dir", type=Path, default=DATA_ROOT, help=f"folder of the data sets (default {DATA_ROOT})")
    replay.set_defaults(handler=run_replay)


def run_generate(settings: Settings, args: argparse.Namespace) -> int:
    start = _parse_start(args.start) if args.start else default_start(args.duration)
    profile = LoadProfile(tenants=args.tenants, rate=args.rate, duration_seconds=args.duration, start=start,
                          duplicate_ratio=args.duplicates, late_ratio=args.late, malformed_ratio=args.malformed,
                          seed=args.seed, max_quantity=settings.ingest.max_quantity)
    profile.validate()
    require_known_tenants(settings, profile.tenant_ids(), TENANT_LISTS["generate"])
    if not args.realtime and profile.end > datetime.now(timezone.utc) + settings.ingest.max_future_skew:
        log.warning("the load ends at %s, in the future: without --realtime silver quarantines the later events "
                    "as EVENT_IN_FUTURE", profile.end.isoformat())

    generator = LoadGenerator(profile, settings.meters)
    report = KafkaPublisher(settings.kafka).publish(generator.records(), realtime=args.realtime)

    summary = {**generator.summary.to_dict(), "tenants": profile.tenants, "seed": profile.seed,
               "start": profile.start.isoformat(), "end": profile.end.isoformat(), "topic": settings.kafka.topic}
    if args.ground_truth:
        totals = generator.totals.totals()
        write_ground_truth(totals, args.ground_truth)
        summary["ground_truth_rows"] = len(totals)
        summary_path = args.ground_truth.with_suffix(".summary.json")
        summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(f"ground truth: {args.ground_truth} ({len(totals)} rows), counts: {summary_path}")

    # The publisher has logged report.describe() already.
    print(f"events {summary['events']} (late {summary['late_events']}), duplicates {summary['duplicates']}, "
          f"malformed {summary['malformed']}")
    return 0


def run_replay(settings: Settings, args: argparse.Namespace) -> int:
    data_set = DATA_SETS[args.data_set]
    month = parse_month(args.month) if args.month else default_target_month(datetime.now(timezone.utc).date())
    validate_target_month(month)
    if args.limit is not None and args.limit <= 0:
        raise LoadError(f"--limit must be a positive number of events, found {args.limit}")

    verify_data_set(data_set, args.data_dir)
    folder = data_set.path(args.data_dir)
    if data_set is FOCUS:
        replay = build_focus_events(read_focus_rows(folder), month_start(month))
        anomalies: Counter = Counter()
    else:
        replay = build_google_cluster_events(read_task_events(folder), month_start(month))
        anomalies = replay.anomalies
    _log_counts(data_set.name, replay.rows, replay.skipped, anomalies)

    events = replay.events[: args.limit] if args.limit else replay.events
    require_known_tenants(settings, {event.tenant_id for event in events}, TENANT_LISTS[data_set.name])
    check_event_window(settings, events)
    report = KafkaPublisher(settings.kafka).publish(encode_event(event) for event in events)

    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(replay.skipped.items())) or "none"
    print(f"{data_set.name} moved to {month:%Y-%m}: {replay.rows} rows read, {len(replay.events)} events built, "
          f"{len(events)} published; skipped rows: {skipped}")
    return 0


def require_known_tenants(settings: Settings, tenant_ids: Iterable[str], tenant_list: str) -> None:
    """Raise ``LoadError`` unless every tenant is registered, since silver quarantines unknown ones."""
    unknown = sorted(set(tenant_ids) - settings.tenants.keys())
    if unknown:
        raise LoadError(f"{len(unknown)} tenants are not registered in {settings.source}, first: {unknown[:5]}; "
                        f"list {tenant_list} under files: in the tenants file")


def check_event_window(settings: Settings, events: list[UsageEvent]) -> None:
    """Raise ``LoadError`` when events fall outside what silver accepts at publish time.

    Silver compares an event's time with its Kafka timestamp, which is about now.
    """
    if not events:
        return
    now = datetime.now(timezone.utc)
    earliest = min(event.time for event in events)
    latest = max(event.time for event in events)
    problems = []
    if earliest < now - settings.ingest.max_event_age:
        problems.append(f"the earliest event ({earliest.isoformat()}) is older than "
                        f"{settings.ingest.max_event_age.days} days and would be quarantined as EVENT_TOO_OLD")
    if latest > now + settings.ingest.max_future_skew:
        problems.append(f"the latest event ({latest.isoformat()}) is in the future and would be quarantined "
                        f"as EVENT_IN_FUTURE")
    if problems:
        raise LoadError("; ".join(problems) + "; choose another --month")


def _parse_start(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise LoadError(f"--start must be ISO 8601 such as 2024-11-01T00:00:00Z, found {text!r}") from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _log_counts(name: str, rows: int, skipped: Counter, anomalies: Counter) -> None:
    log.info("%s: read %d rows", name, rows)
    for reason, count in sorted(skipped.items()):
        log.warning("%s: skipped %d rows: %s", name, count, reason)
    for reason, count in sorted(anomalies.items()):
        log.info("%s: %d rows: %s", name, count, reason)
