"""``meterhouse maintain``: OPTIMIZE and VACUUM every table within its retention window."""

from __future__ import annotations

import argparse

from pipelines.audit.retention import ALL_TABLES
from pipelines.config import Settings


def register_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "maintain", help="OPTIMIZE and VACUUM tables, keeping the history audits need",
        description="Set each table's log and deleted-file retention to its configured window "
                    "(audit.window_days, or audit.layer_window_days for its layer), then OPTIMIZE and VACUUM it. "
                    "A retention shorter than a table's window is rejected.")
    parser.add_argument("--table", action="append", dest="tables", choices=ALL_TABLES, metavar="TABLE",
                        help=f"maintain only this table (repeatable; default: all of {', '.join(ALL_TABLES)})")
    parser.add_argument("--retain-days", type=int, default=None,
                        help="days of history VACUUM keeps; must not be shorter than each table's window")
    parser.set_defaults(handler=run_maintain)


def run_maintain(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.maintenance.maintain import maintain_tables
    from pipelines.session import get_or_build_session

    spark = get_or_build_session(settings)
    results = maintain_tables(spark, settings, args.tables, args.retain_days)
    for result in results:
        changed = ", ".join(result.properties_changed) or "unchanged"
        print(f"{result.table}: retention {result.retention_days} days ({changed}), "
              f"{result.files_compacted} files compacted, vacuumed")
    print(f"{len(results)} tables maintained")
    return 0
