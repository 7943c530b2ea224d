"""``meterhouse invoice``: compute, finalize, void, credit and re-rate invoices."""

from __future__ import annotations

import argparse
import csv
from datetime import datetime
from pathlib import Path

from pipelines.config import Settings
from pipelines.errors import BillingError

ACTIONS = ("void", "credit-note")


def register_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "invoice", help="compute, finalize, void or credit invoices",
        description="Compute a period's draft invoices (rerunnable), finalize them after the grace period, "
                    "void or credit one invoice by id, or re-rate a period with another price book (--dry-run).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  meterhouse invoice --period 2026-11\n  meterhouse invoice --period 2026-11 --finalize\n"
               "  meterhouse invoice void INVOICE_ID\n  meterhouse invoice credit-note INVOICE_ID\n"
               "  meterhouse invoice --period 2026-11 --price-book new.csv --dry-run --output diff.csv")
    parser.add_argument("action", nargs="?", choices=ACTIONS, help="void or credit-note an invoice instead of computing")
    parser.add_argument("invoice_id", nargs="?", help="invoice id for void and credit-note")
    parser.add_argument("--period", help="billing period as YYYY-MM (the month the period starts in)")
    parser.add_argument("--tenant", action="append", dest="tenants", metavar="TENANT",
                        help="invoice only this tenant (repeatable; default: every tenant with a plan)")
    parser.add_argument("--finalize", action="store_true",
                        help="finalize drafts whose period ended more than the grace period ago")
    parser.add_argument("--grace-hours", type=float, default=None,
                        help="hours after the period end before --finalize applies (default: billing.grace_hours or 48)")
    parser.add_argument("--price-book", type=Path, help="CSV price book to re-rate with (needs --dry-run)")
    parser.add_argument("--dry-run", action="store_true", help="compute and print differences; write no invoice table")
    parser.add_argument("--output", type=Path, help="with --dry-run: write the per-tenant differences to this CSV file")
    parser.add_argument("--reason", default="", help="reason recorded on a void or credit note")
    parser.set_defaults(handler=run_invoice_command)


def run_invoice_command(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.session import get_or_build_session

    _check_arguments(args)
    if not args.action:
        _check_period_inputs(settings, args)
    spark = get_or_build_session(settings)
    now = datetime.now().astimezone()
    if args.action == "void":
        from pipelines.billing.documents import void_invoice

        document = void_invoice(spark, settings, args.invoice_id, now, args.reason)
        print(f"{args.invoice_id}: voided" if document["invoice_id"] == args.invoice_id
              else f"{args.invoice_id}: finalized, so credit note {document['invoice_number']} ({document['invoice_id']}) was issued")
        return 0
    if args.action == "credit-note":
        from pipelines.billing.documents import issue_credit_note

        note = issue_credit_note(spark, settings, args.invoice_id, now, args.reason)
        print(f"credit note {note['invoice_number']} ({note['invoice_id']}) for invoice {args.invoice_id}: {note['total']} {note['currency']}")
        return 0
    if args.dry_run:
        return _print_rerating(spark, settings, args)
    return _invoice_period(spark, settings, args, now)


def _check_arguments(args) -> None:
    if args.action and not args.invoice_id:
        raise BillingError(f"`meterhouse invoice {args.action}` needs an invoice id")
    if not args.action and not args.period:
        raise BillingError("--period YYYY-MM is required to compute invoices")
    if args.price_book and not args.dry_run:
        raise BillingError("--price-book re-rates without writing and needs --dry-run")
    if args.dry_run and args.finalize:
        raise BillingError("--dry-run and --finalize exclude each other")


def _check_period_inputs(settings: Settings, args: argparse.Namespace) -> None:
    """Validate the period, tenants, grace hours, rounding mode and price book before Spark starts.

    Each check is pure Python and raises the error the Spark job would raise
    later, so a typo costs no session start-up.
    """
    from pipelines.billing.invoices import grace_period
    from pipelines.billing.money import rounding_mode
    from pipelines.billing.periods import parse_period
    from pipelines.billing.plans import load_plans

    parse_period(args.period)
    unknown = sorted(set(args.tenants or ()) - set(settings.tenants))
    if unknown:
        raise BillingError(f"--tenant: unknown tenants {unknown}; use tenant ids from the tenants file "
                           f"(files.tenants in {settings.source.name})")
    rounding_mode(settings.billing, str(settings.source))
    if args.dry_run:
        if args.price_book is not None:
            load_plans(settings.plans_path, settings.meters, args.price_book)
    else:
        grace_period(settings, args.grace_hours)


def _invoice_period(spark, settings, args, now) -> int:
    from pipelines.billing.invoices import compute_invoices, grace_period, write_invoices

    run = compute_invoices(spark, settings, args.period, args.tenants)
    result = write_invoices(spark, settings, run, finalize=args.finalize,
                            grace=grace_period(settings, args.grace_hours), now=now, tenant_ids=args.tenants)
    finalized = {header["invoice_id"]: header["invoice_number"] for header in result.finalized}
    print(f"period {run.period}: {len(result.written)} drafts written, {len(finalized)} finalized, "
          f"{len(run.closed)} already closed (silver v{run.versions.silver}, gold v{run.versions.gold})")
    for document in run.documents:
        header = document.header
        number = finalized.get(header["invoice_id"], "draft")
        print(f"  {header['tenant_id']:<24} {header['invoice_id']}  {number:<28} {header['total']:>16} {header['currency']}")
    for tenant_id, invoice_id, status in run.closed:
        print(f"  {tenant_id:<24} {invoice_id}  {status}, not recomputed")
    return 0


def _print_rerating(spark, settings, args) -> int:
    from pipelines.billing.invoices import rerate_invoices

    if args.price_book is None:
        raise BillingError("--dry-run re-rates with another price book; pass --price-book FILE")
    differences = rerate_invoices(spark, settings, args.period, args.price_book, args.tenants)
    rows = [{"tenant_id": item.tenant_id, "currency": item.currency, "current_total": str(item.current_total),
             "rerated_total": str(item.rerated_total), "difference": str(item.difference)} for item in differences]
    print(f"period {args.period}: re-rated {len(rows)} tenants with {args.price_book} (nothing written)")
    for row in rows:
        print(f"  {row['tenant_id']:<24} {row['current_total']:>16} -> {row['rerated_total']:>16} "
              f"({row['difference']}) {row['currency']}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with args.output.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["tenant_id"])
            writer.writeheader()
            writer.writerows(rows)
        print(f"differences written to {args.output}")
    return 0
