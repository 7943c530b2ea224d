"""``meterhouse reconcile``: write gold.reconciliation for a period and print each tenant's status."""

from __future__ import annotations

import argparse

from pipelines.config import Settings


def register_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "reconcile", help="reconcile Kafka, bronze, silver, gold and invoices for a period",
        description="Count each tenant's records layer by layer, compare metered and invoiced quantities, find "
                    "Kafka offsets missing in bronze, and replace the period's rows in gold.reconciliation. "
                    "KAFKA_GAP and UNBALANCED block finalizing the tenant's invoice.")
    parser.add_argument("--period", required=True, help="period as YYYY-MM (UTC month of the Kafka timestamps)")
    parser.set_defaults(handler=run_reconcile_command)


def run_reconcile_command(settings: Settings, args: argparse.Namespace) -> int:
    """Print one line per tenant; return 1 when any tenant's status blocks finalizing."""
    from pipelines.reconciliation.conservation import month_bounds
    from pipelines.reconciliation.report import BLOCKING_STATUSES, RC, reconcile_period, write_reconciliation
    from pipelines.session import get_or_build_session

    month_bounds(args.period)
    spark = get_or_build_session(settings)
    rows = reconcile_period(spark, settings, args.period)
    write_reconciliation(spark, settings, args.period, rows)
    print(f"period {args.period}: {len(rows)} tenants reconciled")
    for row in rows:
        print(f"  {row[RC.TENANT_ID]:<24} {row[RC.STATUS]:<18} read {row[RC.KAFKA_RECORDS_READ]}, bronze "
              f"{row[RC.BRONZE_ROWS]}, silver {row[RC.SILVER_ROWS]}, quarantined {row[RC.QUARANTINED_ROWS]}, "
              f"duplicates {row[RC.DUPLICATE_ROWS]}: {row[RC.STATUS_DETAIL]}")
    blocking = {status.value for status in BLOCKING_STATUSES}
    return 1 if any(row[RC.STATUS] in blocking for row in rows) else 0
