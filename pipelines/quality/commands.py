"""``meterhouse quality``: validate table versions and record the results."""

from __future__ import annotations

import argparse

from pipelines.config import Settings
from pipelines.quality.run import TABLE_CHOICES


def register_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "quality", help="validate silver, gold or invoices with the expectation suites",
        description="Validate the current version of each table with the great-expectations suites in "
                    "conf/quality and append the outcome to quality.validation_results. Critical failures "
                    "block finalizing the affected tenants' invoices; warnings are only recorded.")
    parser.add_argument("--table", choices=TABLE_CHOICES, default="all",
                        help="which tables to validate (default: all)")
    parser.set_defaults(handler=run_quality_command)


def run_quality_command(settings: Settings, args: argparse.Namespace) -> int:
    """Print one line per suite and every failed expectation; return 1 when a critical check failed."""
    from pipelines.quality.run import run_quality, targets_for
    from pipelines.session import get_or_build_session

    spark = get_or_build_session(settings)
    outcomes = run_quality(spark, settings, targets_for(args.table))
    if not outcomes:
        print("nothing validated: the tables do not exist yet")
        return 0
    for outcome in outcomes:
        verdict = "passed" if outcome.success else "FAILED"
        print(f"{outcome.suite:<22} {outcome.table} v{outcome.table_version}: {verdict} "
              f"({outcome.evaluated} expectations, {len(outcome.failures)} failed)")
        for failure in outcome.failures:
            tenants = ", ".join(failure.tenant_ids) if failure.tenant_ids is not None else "all tenants"
            print(f"  {failure.severity:<8} {failure.expectation} on {failure.column}: "
                  f"{failure.unexpected_count} of {failure.element_count} rows; tenants: {tenants}")
    return 1 if any(outcome.blocking_failures for outcome in outcomes) else 0
