"""``meterhouse audit``: rebuild documents, verify the ledger, read table history.

Exit codes: 0 when every document is identical and the ledger is intact, 1 when
a document differs or the ledger shows tampering, 2 when the audit cannot run
(for example a version outside the retention window).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines.audit.errors import AuditError
from pipelines.audit.retention import ALL_TABLES
from pipelines.config import Settings


def register_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "audit", help="rebuild invoices from table history, verify the invoice ledger, show table history",
        description="Rebuild issued documents by Delta time travel and compare them with gold, verify the "
                    "tamper-evident invoice ledger, or list a table's commits.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  meterhouse audit invoice INVOICE_ID\n  meterhouse audit tenant acme --period 2026-11\n"
               "  meterhouse audit ledger\n  meterhouse audit history gold.invoices")
    actions = parser.add_subparsers(dest="audit_action", required=True, metavar="ACTION")

    invoice = actions.add_parser("invoice", help="rebuild one document and compare it with gold")
    invoice.add_argument("invoice_id", help="the document's invoice_id")
    _add_configuration_options(invoice)
    invoice.set_defaults(handler=run_audit_invoice)

    tenant = actions.add_parser("tenant", help="rebuild every document of a tenant and period, corrections included")
    tenant.add_argument("tenant_id")
    tenant.add_argument("--period", required=True, help="billing period as YYYY-MM")
    _add_configuration_options(tenant)
    tenant.set_defaults(handler=run_audit_tenant)

    ledger = actions.add_parser("ledger", help="verify the invoice ledger's hash chains against gold")
    ledger.set_defaults(handler=run_audit_ledger)

    history = actions.add_parser("history", help="list a table's commits: operation, job, parameters, rows changed")
    history.add_argument("table", choices=ALL_TABLES, metavar="TABLE", help=f"one of {', '.join(ALL_TABLES)}")
    history.add_argument("--limit", type=int, default=None, help="show only the latest N commits")
    history.set_defaults(handler=run_audit_history)


def _add_configuration_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plans", type=Path, help="plan file the document was priced with, when it is no longer "
                                                   "the configured one (its SHA-256 must match)")
    parser.add_argument("--price-book", type=Path, help="price book the document was priced with, when it is no "
                                                        "longer the configured one (its SHA-256 must match)")


def run_audit_invoice(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.audit.rebuild import audit_document
    from pipelines.session import get_or_build_session

    _check_configuration_options(args)
    spark = get_or_build_session(settings)
    result = audit_document(spark, settings, args.invoice_id, args.plans, args.price_book)
    print_document_audit(result)
    return 0 if result.is_identical else 1


def run_audit_tenant(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.audit.rebuild import audit_tenant_period
    from pipelines.billing.periods import parse_period
    from pipelines.session import get_or_build_session

    parse_period(args.period)
    _check_configuration_options(args)
    spark = get_or_build_session(settings)
    results = audit_tenant_period(spark, settings, args.tenant_id, args.period, args.plans, args.price_book)
    for result in results:
        print_document_audit(result)
    differing = [result for result in results if not result.is_identical]
    print(f"tenant {args.tenant_id}, period {args.period}: {len(results) - len(differing)} of {len(results)} "
          "documents identical")
    return 0 if not differing else 1


def _check_configuration_options(args: argparse.Namespace) -> None:
    # The files are read only after the rebuild has started Spark, so a typo is reported first.
    for option, path in (("--plans", args.plans), ("--price-book", args.price_book)):
        if path is not None and not path.is_file():
            raise AuditError(f"{option} {path}: file not found; pass the file the document was priced with")


def print_document_audit(result) -> None:
    number = result.invoice_number or "no number"
    verdict = "identical" if result.is_identical else f"{len(result.differences)} differences"
    print(f"{result.document_type} {result.invoice_id} ({number}, tenant {result.tenant_id}, period {result.period}, "
          f"{result.status}): {verdict}")
    print(f"  rebuilt from {result.sources.describe()}")
    for difference in result.differences:
        print(f"  {difference.location}: stored {difference.stored}, rebuilt {difference.rebuilt}")


def run_audit_ledger(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.audit.ledger import verify_ledger
    from pipelines.session import get_or_build_session

    spark = get_or_build_session(settings)
    report = verify_ledger(spark, settings)
    print(f"ledger: {report.record_count} records, {'intact' if report.is_intact else 'NOT intact'}")
    for issuer, (sequence, head) in sorted(report.heads.items()):
        # Kept outside the lake, the head hash also exposes a rewrite that recomputed every hash.
        print(f"  issuer {issuer}: head #{sequence} {head}")
    for finding in report.findings:
        print(f"  {finding.kind}: {finding.message}")
    return 0 if report.is_intact else 1


def run_audit_history(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.audit.history import table_history
    from pipelines.session import get_or_build_session

    if args.limit is not None and args.limit < 1:
        raise AuditError(f"--limit must be at least 1 (the number of latest commits to show), found {args.limit}")
    spark = get_or_build_session(settings)
    commits = table_history(spark, settings, args.table, args.limit)
    print(f"{args.table}: {len(commits)} commits in the Delta log, newest first")
    for commit in commits:
        rows = ", ".join(f"{key}={value}" for key, value in sorted(commit.row_metrics.items())) or "-"
        parameters = ", ".join(f"{key}={value}" for key, value in sorted(commit.parameters.items())) or "-"
        print(f"  v{commit.version}  {commit.timestamp:%Y-%m-%d %H:%M:%S}  {commit.operation:<18} "
              f"job={commit.job or '-'}  rows: {rows}")
        print(f"      parameters: {parameters}")
        if commit.user_metadata:
            print(f"      userMetadata: {commit.user_metadata}")
    return 0
