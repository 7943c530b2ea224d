"""``meterhouse export``: write a period's invoices, usage and reconciliation for finance."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from pipelines.config import Settings
from pipelines.errors import ConfigError

# "scheme://" of a URL. Only s3:// is supported; any other scheme would be
# taken for a local folder named like "gs:".
URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


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
    from pipelines.reconciliation.conservation import month_bounds
    from pipelines.session import get_or_build_session

    month_bounds(args.period)
    if args.destination is None:
        destination, source = settings.exports_root, "exports.root"
    else:
        destination, source = args.destination, "--to"
    check_destination(destination, source, dict(settings.raw.get("exports") or {}))
    spark = get_or_build_session(settings)
    manifest = export_period(spark, settings, args.period, destination)
    print(f"period {args.period}: {len(manifest['files'])} files for {len(manifest['tenants'])} tenants "
          f"written to {destination.rstrip('/')}/{args.period}")
    for name, summary in manifest["datasets"].items():
        totals = ", ".join(f"{key} {value}" for key, value in summary["totals"].items())
        print(f"  {name:<16} {summary['rows']:>8} rows  {totals}")
    return 0


def check_destination(destination: str, source: str, exports: dict) -> None:
    """Raise ``ConfigError`` naming ``source`` when ``destination`` is not a usable folder or s3:// target.

    A local folder may not exist yet, but it must not be a file or lie below
    one. An s3:// target is checked with the ``exports`` settings, offline.
    """
    from pipelines.exports.s3 import is_s3_destination, s3_target

    if is_s3_destination(destination):
        s3_target(destination, exports)
        return
    if not destination.strip():
        raise ConfigError(source, ["the export destination is empty; pass a local folder or s3://bucket/prefix"])
    if "\0" in destination:
        raise ConfigError(source, [f"destination {destination!r} contains a NUL character; pass a folder path"])
    if URL_SCHEME.match(destination):
        raise ConfigError(source, [f"destination {destination!r}: only local folders and s3://bucket/prefix are "
                                   f"supported"])
    path = Path(destination)
    blocking = next((item for item in (path, *path.parents) if item.exists() and not item.is_dir()), None)
    if blocking is not None:
        raise ConfigError(source, [f"destination {destination!r}: {blocking} is a file, not a folder; "
                                   f"choose another folder"])
