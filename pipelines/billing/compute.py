"""Compute invoices for a period: pin versions, read usage, rate, build documents.

``compute_invoices`` reads; ``write_invoices`` writes. Between the two, the
result is plain Python, so a dry run, the demo and an audit can use the same
computation and decide what to do with it.

Late usage: a tenant may have finalized invoices for earlier periods whose
usage tables moved on since. Each such period is rated twice with the current
plans: from usage at the versions the invoice recorded, and from current usage. The difference, minus adjustments already billed for that
invoice on other documents, becomes an adjustment line on this invoice that
names the original invoice and period.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.billing.documents import InvoiceDocument, invoice_id_for, quantize_quantity, read_headers, read_lines
from pipelines.billing.money import rounding_mode
from pipelines.billing.plans import PlanCatalog, load_plans
from pipelines.billing.rating import (
    Adjustment,
    AdvanceFeeKey,
    MeterUsage,
    RatedInvoice,
    RatingRequest,
    WindowUsage,
    rate_invoice,
)
from pipelines.billing.subscriptions import (
    Subscription,
    billing_period,
    parse_period_label,
    service_windows,
    shift_label,
    subscriptions_from_records,
    subscriptions_from_tenants,
)
from pipelines.billing.usage import SourceVersions, UsageRequest, pin_versions, read_usage
from pipelines.billing.vocabulary import BillingTiming, DocumentType, LineType, PricingModel
from pipelines.billing.vocabulary import InvoiceColumn as I
from pipelines.config import Settings
from pipelines.errors import BillingError
from pipelines.vocabulary import InvoiceStatus

log = logging.getLogger(__name__)
ZERO = Decimal(0)


@dataclass(frozen=True)
class TenantInputs:
    """Inputs of one tenant's invoice before prices are applied: subscription, usage and invoice history."""

    subscription: Subscription
    windows: tuple[WindowUsage, ...]
    next_windows: tuple
    advance_billed_elsewhere: Mapping[AdvanceFeeKey, Decimal]
    credit_balance: Decimal
    # One tuple per finalized earlier invoice: (invoice id, period, usage at its
    # recorded versions, usage now, adjustments already billed, its gold version).
    late_usage: tuple = ()


@dataclass(frozen=True)
class InvoiceRun:
    """The computed drafts of one period and where their inputs came from."""

    period: str
    versions: SourceVersions
    plans_sha256: str
    documents: tuple[InvoiceDocument, ...]
    rated: Mapping[str, RatedInvoice]
    closed: tuple[tuple[str, str, str], ...] = ()
    unbilled_tenants: tuple[str, ...] = ()


@dataclass(frozen=True)
class HistoryAsOf:
    """The table versions an audit rebuild reads instead of the latest ones.

    ``lines_version`` is None when gold.invoice_lines did not exist yet, so
    there were no earlier lines to read.
    """

    usage: SourceVersions
    invoices_version: int
    lines_version: int | None


@dataclass
class _Gathered:
    period: str
    versions: SourceVersions
    inputs: dict[str, TenantInputs] = field(default_factory=dict)
    closed: list[tuple[str, str, str]] = field(default_factory=list)
    unbilled: list[str] = field(default_factory=list)


def load_subscriptions(spark: SparkSession, settings: Settings, catalog: PlanCatalog) -> dict[str, Subscription]:
    """Read subscriptions from the tenants file, or from the Delta table ``billing.subscriptions_table``.

    The table has one row per term with the columns named like the tenant
    attributes (tenant_id, plan, subscription_start, subscription_end,
    billing_timezone, period, anchor_day, tax_percent, prepaid_credits).
    """
    location = settings.billing.get("subscriptions_table")
    if not location:
        return subscriptions_from_tenants(settings.tenants.values(), catalog)
    reader = spark.read.format("delta")
    frame = reader.load(location) if "/" in str(location) else spark.table(str(location))
    records: dict[str, dict] = {}
    for row in frame.collect():
        values = {key: value for key, value in row.asDict().items() if value is not None}
        tenant_id = values.pop("tenant_id")
        record = records.setdefault(tenant_id, dict(values, subscriptions=[]))
        record["subscriptions"].append({"plan": values.get("plan"), "start": values.get("subscription_start"),
                                        "end": values.get("subscription_end")})
    return subscriptions_from_records(records, catalog, source=str(location))


def compute_invoices(
    spark: SparkSession,
    settings: Settings,
    period: str,
    tenant_ids: Iterable[str] | None = None,
    price_book: Path | None = None,
) -> InvoiceRun:
    """Rate every subscribed tenant (or ``tenant_ids``) for ``period`` (YYYY-MM); write nothing.

    Usage is read at the latest Delta versions, pinned once for the whole run
    and recorded on every invoice. Tenants whose invoice for the period is
    finalized or voided are listed in ``closed`` and not recomputed.
    """
    catalog = load_plans(settings.plans_path, settings.meters, price_book)
    gathered = gather_inputs(spark, settings, period, tenant_ids, catalog)
    return rate_gathered(settings, gathered, catalog)


def rate_gathered(settings: Settings, gathered: _Gathered, catalog: PlanCatalog) -> InvoiceRun:
    rounding = rounding_mode(settings.billing, str(settings.source))
    documents = []
    rated_by_tenant = {}
    for tenant_id, inputs in sorted(gathered.inputs.items()):
        rated = rate_invoice(_request(inputs, gathered.period, catalog, rounding), catalog)
        rated_by_tenant[tenant_id] = rated
        documents.append(build_document(settings, rated, inputs.subscription, gathered.versions, catalog))
    return InvoiceRun(period=gathered.period, versions=gathered.versions, plans_sha256=catalog.sha256,
                      documents=tuple(documents), rated=rated_by_tenant, closed=tuple(gathered.closed),
                      unbilled_tenants=tuple(gathered.unbilled))


def _request(inputs: TenantInputs, label: str, catalog: PlanCatalog, rounding: str) -> RatingRequest:
    subscription = inputs.subscription
    adjustments = []
    for invoice_id, prior_label, usage_then, usage_now, already, gold_then in inputs.late_usage:
        then = _rate_usage_only(subscription, prior_label, usage_then, catalog, rounding).plan_net
        now = _rate_usage_only(subscription, prior_label, usage_now, catalog, rounding).plan_net
        amount = now - then - already
        if amount != 0:
            adjustments.append(Adjustment(invoice_id=invoice_id, period=prior_label, amount=amount, details={
                "billed_usage_amount": str(then), "current_usage_amount": str(now),
                "already_adjusted": str(already), "gold_version_billed": str(gold_then)}))
    return RatingRequest(subscription=subscription, period=billing_period(subscription, label),
                         windows=inputs.windows, next_windows=inputs.next_windows,
                         advance_billed_elsewhere=inputs.advance_billed_elsewhere, adjustments=tuple(adjustments),
                         credit_balance=inputs.credit_balance, rounding=rounding)


def _rate_usage_only(subscription, label, usage: Mapping[int, Mapping[str, MeterUsage]], catalog, rounding) -> RatedInvoice:
    period = billing_period(subscription, label)
    windows = tuple(WindowUsage(window=window, usage=usage.get(index, {}))
                    for index, window in enumerate(service_windows(subscription, period)))
    plain = replace(subscription, tax_percent=ZERO, discounts=())
    return rate_invoice(RatingRequest(subscription=plain, period=period, windows=windows, rounding=rounding), catalog)


def gather_inputs(spark, settings, period, tenant_ids, catalog, as_of: HistoryAsOf | None = None) -> _Gathered:
    """Pin versions and read everything rating needs: subscriptions, usage, invoice history.

    With ``as_of``, usage and the invoice tables are read at those versions
    (an audit rebuild) instead of the latest ones.
    """
    parse_period_label(period)
    subscriptions = load_subscriptions(spark, settings, catalog)
    scope = _scope(settings, subscriptions, tenant_ids)
    versions = as_of.usage if as_of else pin_versions(spark, settings)
    gathered = _Gathered(period=period, versions=versions,
                         unbilled=sorted(set(tenant_ids or settings.tenants) - set(subscriptions)))
    headers = read_headers(spark, settings, scope, as_of.invoices_version if as_of else None)
    history = _history(spark, settings, scope, as_of)

    requests, late_requests = [], {}
    plans_by_tenant = {}
    for tenant_id in scope:
        subscription = subscriptions[tenant_id]
        invoice_id = invoice_id_for(tenant_id, period, DocumentType.INVOICE)
        stored = next((header for header in headers if header[I.INVOICE_ID] == invoice_id), None)
        if stored is not None and stored[I.STATUS] != InvoiceStatus.DRAFT.value:
            gathered.closed.append((tenant_id, invoice_id, stored[I.STATUS]))
            continue
        current = billing_period(subscription, period)
        windows = service_windows(subscription, current)
        if not windows and not service_windows(subscription, billing_period(subscription, shift_label(period, 1))):
            continue
        plans_by_tenant[tenant_id] = windows
        requests += [UsageRequest(f"{tenant_id}\x1f{period}\x1f{index}", tenant_id, window.start, window.end)
                     for index, window in enumerate(windows)]
        for prior in _finalized_priors(headers, tenant_id, period, versions):
            prior_windows = service_windows(subscription, billing_period(subscription, prior[I.PERIOD]))
            then = SourceVersions(silver=prior[I.SILVER_VERSION], gold=prior[I.GOLD_VERSION])
            for index, window in enumerate(prior_windows):
                key = f"{tenant_id}\x1f{prior[I.PERIOD]}\x1f{index}"
                late_requests.setdefault(then, []).append(UsageRequest(key, tenant_id, window.start, window.end))
                requests.append(UsageRequest(key, tenant_id, window.start, window.end))

    meters, transaction_meters = _meters_in_use(settings, catalog)
    usage_now = read_usage(spark, settings, _unique(requests), versions, meters, transaction_meters)
    usage_then = {then: read_usage(spark, settings, _unique(items), then, meters, transaction_meters)
                  for then, items in late_requests.items()}

    for tenant_id, windows in plans_by_tenant.items():
        subscription = subscriptions[tenant_id]
        invoice_id = invoice_id_for(tenant_id, period, DocumentType.INVOICE)
        gathered.inputs[tenant_id] = TenantInputs(
            subscription=subscription,
            windows=tuple(WindowUsage(window=window, usage=usage_now.get(f"{tenant_id}\x1f{period}\x1f{index}", {}))
                          for index, window in enumerate(windows)),
            next_windows=tuple(service_windows(subscription, billing_period(subscription, shift_label(period, 1)))),
            advance_billed_elsewhere=_advance_billed(history, tenant_id, invoice_id),
            credit_balance=_credit_balance(subscription, headers, tenant_id, period),
            late_usage=tuple(_late_usage(headers, history, tenant_id, period, invoice_id, versions,
                                         usage_now, usage_then)),
        )
    return gathered


def _scope(settings, subscriptions, tenant_ids) -> list[str]:
    if tenant_ids is None:
        return sorted(subscriptions)
    requested = sorted(set(tenant_ids))
    unknown = [tenant for tenant in requested if tenant not in settings.tenants]
    unsubscribed = [tenant for tenant in requested if tenant in settings.tenants and tenant not in subscriptions]
    if unknown:
        raise BillingError(f"--tenant: unknown tenants {unknown}; tenants are listed in the tenants file")
    if unsubscribed:
        raise BillingError(f"--tenant: tenants {unsubscribed} have no plan; set 'plan' in their tenant attributes")
    return requested


def _history(spark, settings, tenant_ids, as_of: HistoryAsOf | None) -> list[dict]:
    # Lines other invoices billed that this invoice must not bill again:
    # in-advance flat fees and late-usage adjustments, with their reversals.
    if as_of is not None and as_of.lines_version is None:
        return []
    kinds = [LineType.CHARGE.value, LineType.ADJUSTMENT.value, LineType.REVERSAL.value]
    return read_lines(spark, settings, F.col(I.TENANT_ID).isin(list(tenant_ids)) & F.col(I.LINE_TYPE).isin(kinds)
                      & (F.col(I.PRICING_MODEL).eqNullSafe(PricingModel.FLAT_FEE.value)
                         | F.col(I.REFERENCES_INVOICE_ID).isNotNull()),
                      as_of.lines_version if as_of else None)


def _voided_ids(headers) -> set[str]:
    return {header[I.INVOICE_ID] for header in headers if header[I.STATUS] == InvoiceStatus.VOIDED.value}


def _advance_billed(history, tenant_id, invoice_id) -> dict[AdvanceFeeKey, Decimal]:
    billed: dict[AdvanceFeeKey, Decimal] = {}
    for line in history:
        if (line[I.TENANT_ID] != tenant_id or line[I.INVOICE_ID] == invoice_id
                or line[I.PRICING_MODEL] != PricingModel.FLAT_FEE.value or line[I.SERVICE_START] is None):
            continue
        if json.loads(line[I.DETAILS]).get("timing") != BillingTiming.ADVANCE.value:
            continue
        key = (line[I.PLAN_ID], line[I.CHARGE_ID], line[I.SERVICE_START].isoformat())
        billed[key] = billed.get(key, ZERO) + line[I.AMOUNT]
    return billed


def _credit_balance(subscription, headers, tenant_id, period) -> Decimal:
    if subscription.prepaid_credits == 0 or subscription.start_date >= billing_period(subscription, period).end_date:
        return ZERO
    used = sum((header[I.CREDITS_APPLIED] for header in headers
                if header[I.TENANT_ID] == tenant_id and header[I.PERIOD] < period
                and header[I.STATUS] != InvoiceStatus.VOIDED.value), ZERO)
    return max(ZERO, subscription.prepaid_credits - used)


def _finalized_priors(headers, tenant_id, period, versions) -> list[dict]:
    # An invoice computed at the current versions cannot have missed any usage.
    return [header for header in headers
            if header[I.TENANT_ID] == tenant_id and header[I.PERIOD] < period
            and header[I.DOCUMENT_TYPE] == DocumentType.INVOICE.value
            and header[I.STATUS] == InvoiceStatus.FINALIZED.value
            and (header[I.GOLD_VERSION], header[I.SILVER_VERSION]) != (versions.gold, versions.silver)]


def _late_usage(headers, history, tenant_id, period, invoice_id, versions, usage_now, usage_then):
    voided = _voided_ids(headers)
    for prior in _finalized_priors(headers, tenant_id, period, versions):
        already = sum((line[I.AMOUNT] for line in history
                       if line[I.REFERENCES_INVOICE_ID] == prior[I.INVOICE_ID] and line[I.INVOICE_ID] != invoice_id
                       and line[I.INVOICE_ID] not in voided
                       and line[I.LINE_TYPE] in (LineType.ADJUSTMENT.value, LineType.REVERSAL.value)), ZERO)
        then = usage_then.get(SourceVersions(silver=prior[I.SILVER_VERSION], gold=prior[I.GOLD_VERSION]), {})
        prefix = f"{tenant_id}\x1f{prior[I.PERIOD]}\x1f"
        by_index_then = {int(key[len(prefix):]): value for key, value in then.items() if key.startswith(prefix)}
        by_index_now = {int(key[len(prefix):]): value for key, value in usage_now.items() if key.startswith(prefix)}
        yield (prior[I.INVOICE_ID], prior[I.PERIOD], by_index_then, by_index_now, already, prior[I.GOLD_VERSION])


def _meters_in_use(settings, catalog):
    names = {meter for plan in catalog.plans.values() for meter in plan.meters}
    transaction_meters = {charge.meter for plan in catalog.plans.values() for charge in plan.charges
                          if charge.model.needs_transactions}
    return [meter for meter in settings.meters if meter.name in names], transaction_meters


def _unique(requests: Sequence[UsageRequest]) -> list[UsageRequest]:
    return list({request.key: request for request in requests}.values())


def build_document(settings: Settings, rated: RatedInvoice, subscription: Subscription,
                   versions: SourceVersions, catalog: PlanCatalog) -> InvoiceDocument:
    """Turn a rated invoice into a draft header and line rows of the invoice tables."""
    period = rated.period
    invoice_id = invoice_id_for(rated.tenant_id, period.label, DocumentType.INVOICE)
    plan_ids = sorted({term.plan_id for term in subscription.terms})
    book_hashes = sorted({catalog[plan_id].price_book_sha256 for plan_id in plan_ids} - {""})
    common = {I.TENANT_ID: rated.tenant_id, I.INVOICE_ID: invoice_id, I.PERIOD: period.label,
              I.DOCUMENT_TYPE: DocumentType.INVOICE.value}
    lines = tuple(dict(common, **{
        I.LINE_NUMBER: number, I.LINE_TYPE: line.line_type.value, I.PLAN_ID: line.plan_id, I.CHARGE_ID: line.charge_id,
        I.METER: line.meter, I.PRICING_MODEL: line.pricing_model.value if line.pricing_model else None,
        I.DIMENSIONS: line.dimensions, I.QUANTITY: quantize_quantity(line.quantity),
        I.UNIT_PRICE: quantize_quantity(line.unit_price), I.AMOUNT: line.amount, I.CURRENCY: rated.currency,
        I.SERVICE_START: line.service_start, I.SERVICE_END: line.service_end, I.DESCRIPTION: line.description,
        I.DETAILS: line.details, I.REFERENCES_INVOICE_ID: line.references_invoice_id,
        I.REFERENCES_PERIOD: line.references_period,
    }) for number, line in enumerate(rated.lines, start=1))
    header = dict(common, **{
        I.STATUS: InvoiceStatus.DRAFT.value, I.ISSUER: str(settings.billing.get("issuer", "meterhouse")),
        I.INVOICE_NUMBER: None, I.SEQUENCE: None, I.CURRENCY: rated.currency,
        I.BILLING_TIMEZONE: subscription.timezone, I.PERIOD_START: period.start, I.PERIOD_END: period.end,
        I.SUBTOTAL: rated.subtotal, I.DISCOUNT_TOTAL: rated.discount_total, I.CREDITS_APPLIED: rated.credits_applied,
        I.CREDIT_BALANCE: rated.credit_balance, I.TAX_TOTAL: rated.tax_total, I.TOTAL: rated.total,
        I.LINE_COUNT: len(lines), I.SILVER_VERSION: versions.silver, I.GOLD_VERSION: versions.gold,
        I.PRICE_BOOK_SHA256: ",".join(book_hashes), I.PLANS_SHA256: catalog.sha256,
        I.REFERENCES_INVOICE_ID: None, I.REFERENCES_PERIOD: None, I.REASON: None,
        I.FINALIZED_AT: None, I.VOIDED_AT: None,
    })
    return InvoiceDocument(header=header, lines=lines)
