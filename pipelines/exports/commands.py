"""``meterhouse export``: write a period's invoices, usage and reconciliation for finance."""

from __future__ import annotations

import argparse

from pipelines.config import Settings


def register_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a period as CSV and Parquet with a manifest",
        description="Write invoices, invoice lines, daily usage, the reconciliation and a FOCUS 1.0 file of a "
                    "period, for all tenants and per tenant, with manifest.json (row counts, totals, SHA-256, "
                    "Delta versions). Exporting the same table versions again gives byte-identical files.")
    parser.add_argument("--period", required=True, help="period as YYYY-MM")
    parser.add_argument("--to", dest="destination", default=None,
                        help="local folder or s3://bucket/prefix (default: exports.root)")
    parser.set_defaults(handler=run_export_command)


def run_export_command(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.exports.export import export_period
    from pipelines.session import get_or_build_session

    spark = get_or_build_session(settings)
    destination = args.destination or settings.exports_root
    manifest = export_period(spark, settings, args.period, destination)
    print(f"period {args.period}: {len(manifest['files'])} files for {len(manifest['tenants'])} tenants "
          f"written to {destination.rstrip('/')}/{args.period}")
    for name, summary in manifest["datasets"].items():
        totals = ", ".join(f"{key} {value}" for key, value in summary["totals"].items())
        print(f"  {name:<16} {summary['rows']:>8} rows  {totals}")
    return 0
