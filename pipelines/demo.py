"""``meterhouse demo``: the whole job on real data, on the embedded default.

Starts the local broker (and stops it again if it was not running before),
replays the Google cluster trace and the FOCUS sample into Kafka, runs the
bronze, silver and gold streams in run-once mode until they have caught up,
invoices the replayed month for the data sets' tenants (the synthetic tenants
of ``meterhouse generate`` have plans too, but no usage here), runs the data
quality suites, reconciles and exports the month, and prints a summary:
records per layer, quarantine reasons, duplicates, conservation per tenant,
the largest invoices, where the tables are, wall time and events per second,
the quality outcomes and the reconciliation status per tenant.

Running it again replays the same events: every record is then an exact
duplicate, so the invoices stay the same.
"""

from __future__ import annotations

import argparse
import csv
import logging
import time
from datetime import datetime, timezone

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.config import Settings
from pipelines.reconciliation.conservation import conservation_by_tenant, conservation_totals
from pipelines.tables import read_table, table_path
from pipelines.vocabulary import Column as C
from pipelines.vocabulary import Table

log = logging.getLogger(__name__)

DATA_SETS = ("focus", "google-cluster")
TOP_INVOICES = 10


def register_commands(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="replay both real data sets end to end and print a summary")
    demo.add_argument("--month", help="month YYYY-MM the data sets move to and that is invoiced "
                                      "(default: the most recent complete month with at least 30 days)")
    demo.add_argument("--keep-broker", action="store_true", help="leave the local broker running afterwards")
    demo.set_defaults(handler=run_demo)


def run_demo(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.load.datasets import default_target_month
    from pipelines.runtime.kafka_broker import LocalBroker, ensure_topic
    from pipelines.session import build_local_session

    started = time.monotonic()
    month = args.month or default_target_month(datetime.now(timezone.utc).date()).strftime("%Y-%m")
    broker = LocalBroker(settings.broker)
    was_running = broker.status().is_answering
    broker.start()
    try:
        ensure_topic(settings.kafka)
        published = publish_data_sets(settings, month)
        spark = build_local_session(settings)
        runs = run_streams(spark, settings)
        invoices = invoice_month(spark, settings, month)
        quality = check_quality(spark, settings)
        reconciliation = reconcile_month(spark, settings, month)
        manifest = export_month(spark, settings, month)
        print_summary(spark, settings, month, published, runs, invoices, time.monotonic() - started)
        print_quality(quality)
        print_reconciliation(reconciliation)
        print_exports(settings, month, manifest)
    finally:
        if not was_running and not args.keep_broker:
            broker.stop()
    return 0


def publish_data_sets(settings: Settings, month: str) -> float:
    """Replay both data sets into Kafka; return the seconds it took."""
    from pipelines.load.commands import run_replay
    from pipelines.load.datasets import DATA_ROOT

    started = time.monotonic()
    for name in DATA_SETS:
        log.info("replaying %s into topic %s", name, settings.kafka.topic)
        run_replay(settings, argparse.Namespace(data_set=name, month=month, limit=None, data_dir=DATA_ROOT))
    return time.monotonic() - started


def run_streams(spark: SparkSession, settings: Settings):
    from pipelines.streams.runner import run_layers_once

    return run_layers_once(spark, settings)


def invoice_month(spark: SparkSession, settings: Settings, month: str):
    from pipelines.billing.invoices import compute_invoices, write_invoices

    run = compute_invoices(spark, settings, month, data_set_tenants())
    write_invoices(spark, settings, run)
    return run


def data_set_tenants() -> list[str]:
    """Return the tenant ids registered for the replayed data sets, from their tenant lists."""
    from pipelines.config import PROJECT_ROOT
    from pipelines.load.commands import TENANT_LISTS

    tenant_ids = set()
    for name in DATA_SETS:
        with open(PROJECT_ROOT / TENANT_LISTS[name], newline="", encoding="utf-8") as handle:
            tenant_ids.update(row["tenant_id"] for row in csv.DictReader(handle))
    return sorted(tenant_ids)


def check_quality(spark: SparkSession, settings: Settings) -> list:
    """Run every expectation suite on the current table versions and record the outcomes."""
    from pipelines.quality.run import run_quality, targets_for

    return run_quality(spark, settings, targets_for("all"))


def print_quality(outcomes: list) -> None:
    print(f"\ndata quality ({len(outcomes)} suites, results in quality.validation_results)")
    for outcome in outcomes:
        verdict = "passed" if outcome.success else f"FAILED ({len(outcome.failures)} expectations)"
        print(f"  {outcome.suite:<22} {outcome.table} v{outcome.table_version}: {verdict}")


def reconcile_month(spark: SparkSession, settings: Settings, month: str) -> list[dict]:
    from pipelines.reconciliation.report import reconcile_period, write_reconciliation

    rows = reconcile_period(spark, settings, month)
    write_reconciliation(spark, settings, month, rows)
    return rows


def export_month(spark: SparkSession, settings: Settings, month: str) -> dict:
    from pipelines.exports.export import export_period

    return export_period(spark, settings, month, settings.exports_root)


def print_reconciliation(rows: list[dict]) -> None:
    from collections import Counter

    from pipelines.reconciliation.report import RC, ReconciliationStatus

    statuses = Counter(row[RC.STATUS] for row in rows)
    print(f"\nreconciliation per tenant ({len(rows)} tenants, full table in gold.reconciliation): "
          + ", ".join(f"{status} {count}" for status, count in sorted(statuses.items())))
    for row in sorted(rows, key=lambda item: item[RC.TENANT_ID]):
        if row[RC.STATUS] != ReconciliationStatus.BALANCED.value:
            print(f"  {row[RC.TENANT_ID]:<48} {row[RC.STATUS]:<18} {row[RC.STATUS_DETAIL]}")


def print_exports(settings: Settings, month: str, manifest: dict) -> None:
    print(f"\nexports: {len(manifest['files'])} files for {len(manifest['tenants'])} tenants in "
          f"{settings.exports_root.rstrip('/')}/{month} (manifest.json lists each file's SHA-256)")


def print_summary(spark: SparkSession, settings: Settings, month: str, publish_seconds: float,
                  runs, invoice_run, wall_seconds: float) -> None:
    by_tenant = conservation_by_tenant(spark, settings).cache()
    totals = conservation_totals(by_tenant)

    print("\n=== meterhouse demo summary ===")
    print(f"month invoiced: {month}   wall time: {wall_seconds:.0f} s   publishing: {publish_seconds:.0f} s")
    stream_rows = runs[0].input_rows if runs else 0
    print(f"end to end: {stream_rows} records read from Kafka in {wall_seconds:.0f} s of wall time "
          f"= {stream_rows / wall_seconds:.0f} records/s (publishing, streams, invoices, quality, reconciliation, exports)")
    print("\nrecords per layer")
    counts = {"bronze": totals.bronze, "silver": totals.silver, "quarantine": totals.quarantine,
              "duplicates": totals.duplicates}
    for table in (Table.GOLD_HOURLY, Table.GOLD_DAILY):
        counts[table.value] = read_table(spark, settings, table).count()
    for name, count in counts.items():
        print(f"  {name:<17} {count:>10}")
    print("\nstreams (this run)")
    for run in runs:
        print(f"  {run.layer:<7} {run.input_rows:>10} rows in {run.seconds:>6.1f} s = {run.rows_per_second:>9.0f} rows/s")
    _print_quarantine_reasons(spark, settings)
    _print_conservation(by_tenant, totals)
    _print_largest_invoices(invoice_run)
    print("\ntables")
    for table in Table:
        print(f"  {table.value:<28} {table_path(settings, table)}")
    by_tenant.unpersist()


def _print_quarantine_reasons(spark: SparkSession, settings: Settings) -> None:
    reasons = (read_table(spark, settings, Table.SILVER_QUARANTINE)
               .groupBy(C.REASON_CODE).count().orderBy(F.desc("count")).collect())
    print("\nquarantined by reason")
    for row in reasons or []:
        print(f"  {row[C.REASON_CODE]:<26} {row['count']:>8}")
    if not reasons:
        print("  none")


def _print_conservation(by_tenant, totals) -> None:
    unbalanced = by_tenant.filter(~F.col("balanced")).collect()
    tenants = by_tenant.count()
    verdict = "holds" if totals.holds and not unbalanced else "BROKEN"
    print(f"\nconservation (bronze = silver + quarantine + duplicates, matched by Kafka offset): {verdict}")
    print(f"  {tenants} tenants balanced: {tenants - len(unbalanced)}; unaccounted records: {totals.unaccounted}; "
          f"records written twice: {totals.multiple}; rows not in bronze: {totals.not_in_bronze}")
    for row in unbalanced[:10]:
        print(f"  UNBALANCED {row[C.TENANT_ID]}: {row.asDict()}")


def _print_largest_invoices(invoice_run) -> None:
    headers = sorted((document.header for document in invoice_run.documents), key=lambda h: h["total"], reverse=True)
    print(f"\ninvoices for {invoice_run.period}: {len(headers)} drafts; largest {TOP_INVOICES}:")
    for header in headers[:TOP_INVOICES]:
        print(f"  {header['tenant_id']:<40} {header['total']:>14} {header['currency']}  {header['invoice_id']}")
