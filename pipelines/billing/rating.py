"""Rating: turn one tenant's usage for one period into invoice lines. Pure Python.

The order in which a total is built, and where each rounding happens:

1. Charge lines, one per charge (one per dimension value for a charge priced
   from a price book). Each line's amount is computed unrounded by its pricing
   model and rounded once to the currency's minor unit.
2. Minimum commitment: a true-up line when a term's charges for the period are
   below its prorated commitment.
3. Plan discounts, in ascending ``order``, each on what remains of that plan's
   lines. A percentage discount is rounded once as its own line, and no
   discount takes the plan's lines below zero.
4. Adjustment lines for usage that arrived after an earlier invoice was
   finalized, each naming that invoice and its period.
5. Tenant discounts, in ascending ``order``, on the running total.
6. Prepaid credits, drawn down up to the running total; the balance never
   goes negative and carries to the next period.
7. Tax: ``tax_percent`` of the total after credits, rounded once.

The invoice total is the sum of its rounded lines, so it matches them to the
minor unit. Nothing here reads Spark or the clock: equal inputs give equal lines.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext

from pipelines.billing.models import ChargeUsage, FlatFee, PerUnit
from pipelines.billing.money import BILLING_CONTEXT, round_line
from pipelines.billing.plans import Charge, Discount, Plan, PlanCatalog
from pipelines.billing.subscriptions import BillingPeriod, ServiceWindow, Subscription
from pipelines.billing.vocabulary import BillingTiming, DiscountKind, LineType, PricingModel
from pipelines.errors import BillingError

ZERO = Decimal(0)
HUNDRED = Decimal(100)

# (plan id, charge id, service start as ISO 8601 UTC): identifies one in-advance
# fee for one service window across invoices.
AdvanceFeeKey = tuple[str, str, str]


@dataclass(frozen=True)
class MeterUsage:
    """One meter's usage in one service window.

    ``total`` folds all dimension groups with the meter's aggregation (SUM and
    COUNT add, MAX takes the maximum, LATEST adds each group's latest value,
    UNIQUE_COUNT counts distinct values over all groups). ``by_dimensions`` maps
    each dimensions JSON string to its own quantity. ``transactions`` contains
    per-event values in event-time order, read only for percentage charges.
    """

    total: Decimal
    by_dimensions: Mapping[str, Decimal] = field(default_factory=dict)
    transactions: tuple[Decimal, ...] = ()


EMPTY_USAGE = MeterUsage(total=ZERO)


@dataclass(frozen=True)
class WindowUsage:
    """A service window of the period and the usage of each meter within it."""

    window: ServiceWindow
    usage: Mapping[str, MeterUsage]


@dataclass(frozen=True)
class Adjustment:
    """A correction for usage that reached a period after its invoice was finalized."""

    invoice_id: str
    period: str
    amount: Decimal
    details: Mapping[str, str]


@dataclass(frozen=True)
class RatingRequest:
    """Everything needed to rate one tenant's invoice for one period.

    ``next_windows`` are the service windows of the following period, whose
    in-advance fees this invoice bills. ``advance_billed_elsewhere`` contains the
    in-advance fees other (not voided) invoices already billed, so a fee is
    billed once and a later plan change or cancellation is corrected by the
    difference.
    """

    subscription: Subscription
    period: BillingPeriod
    windows: Sequence[WindowUsage]
    next_windows: Sequence[ServiceWindow] = ()
    advance_billed_elsewhere: Mapping[AdvanceFeeKey, Decimal] = field(default_factory=dict)
    adjustments: Sequence[Adjustment] = ()
    credit_balance: Decimal = ZERO
    rounding: str = "ROUND_HALF_UP"


@dataclass(frozen=True)
class RatedLine:
    line_type: LineType
    amount: Decimal
    description: str
    plan_id: str | None = None
    charge_id: str | None = None
    meter: str | None = None
    pricing_model: PricingModel | None = None
    dimensions: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    service_start: datetime | None = None
    service_end: datetime | None = None
    details: str = "{}"
    references_invoice_id: str | None = None
    references_period: str | None = None


@dataclass(frozen=True)
class RatedInvoice:
    """The rated lines of one invoice and the totals they add up to."""

    tenant_id: str
    period: BillingPeriod
    currency: str
    lines: tuple[RatedLine, ...]
    subtotal: Decimal
    discount_total: Decimal
    credits_applied: Decimal
    credit_balance: Decimal
    tax_total: Decimal
    total: Decimal

    @property
    def plan_net(self) -> Decimal:
        """Charges, commitment true-ups and plan discounts: what usage changes."""
        kinds = (LineType.CHARGE, LineType.MINIMUM_COMMITMENT)
        total = sum((line.amount for line in self.lines if line.line_type in kinds), ZERO)
        plan_discounts = sum((line.amount for line in self.lines
                              if line.line_type is LineType.DISCOUNT and line.plan_id), ZERO)
        return total + plan_discounts


def rate_invoice(request: RatingRequest, catalog: PlanCatalog) -> RatedInvoice:
    """Rate one invoice; raise ``BillingError`` when usage has no price."""
    with localcontext(BILLING_CONTEXT):
        return _Rater(request, catalog).rate()


class _Rater:
    def __init__(self, request: RatingRequest, catalog: PlanCatalog):
        self.request = request
        self.catalog = catalog
        self.currency = _currency(request, catalog)
        self.lines: list[RatedLine] = []
        self.missing_prices: list[str] = []

    def rate(self) -> RatedInvoice:
        request = self.request
        plan_lines: dict[str, list[RatedLine]] = {}
        for window_usage in sorted(request.windows, key=lambda item: item.window.start_date):
            plan = self.catalog[window_usage.window.term.plan_id]
            lines = self._window_lines(plan, window_usage)
            plan_lines.setdefault(plan.plan_id, []).extend(lines)
        for window in sorted(request.next_windows, key=lambda item: item.start_date):
            plan = self.catalog[window.term.plan_id]
            plan_lines.setdefault(plan.plan_id, []).extend(self._advance_lines(plan, window, "next period"))
        if self.missing_prices:
            raise BillingError(f"tenant {request.subscription.tenant_id}, period {request.period.label}: "
                               f"no price in the price book for {sorted(set(self.missing_prices))}; "
                               f"add them to the price book before invoicing")

        for plan_id, lines in plan_lines.items():
            self.lines.extend(lines)
            base = sum((line.amount for line in lines), ZERO)
            self.lines.extend(self._discount_lines(self.catalog[plan_id].discounts, base, plan_id))

        for adjustment in request.adjustments:
            self.lines.append(RatedLine(
                line_type=LineType.ADJUSTMENT, amount=adjustment.amount,
                description=f"Late usage for period {adjustment.period} (invoice {adjustment.invoice_id})",
                details=_json(adjustment.details), references_invoice_id=adjustment.invoice_id,
                references_period=adjustment.period))

        running = self._sum_lines()
        self.lines.extend(self._discount_lines(request.subscription.discounts, running, None))
        running = self._sum_lines()
        credits = min(request.credit_balance, max(ZERO, running))
        if credits > 0:
            self.lines.append(RatedLine(line_type=LineType.CREDIT, amount=-credits,
                                        description="Prepaid credits applied",
                                        details=_json({"balance_before": str(request.credit_balance)})))
        tax_percent = request.subscription.tax_percent
        if tax_percent > 0:
            taxable = self._sum_lines()
            tax = round_line(taxable * tax_percent / HUNDRED, self.currency, request.rounding)
            self.lines.append(RatedLine(line_type=LineType.TAX, amount=tax, description=f"Tax {tax_percent}%",
                                        details=_json({"taxable": str(taxable), "percent": str(tax_percent)})))
        return self._result(credits)

    def _window_lines(self, plan: Plan, window_usage: WindowUsage) -> list[RatedLine]:
        window = window_usage.window
        lines: list[RatedLine] = []
        committed = ZERO
        for charge in plan.charges:
            if isinstance(charge.model, FlatFee):
                target = self._flat_fee_line(plan, charge, window, "")
                committed += target.amount
                if charge.model.timing is BillingTiming.ARREARS:
                    lines.append(target)
                continue
            charge_lines = self._usage_lines(plan, charge, window, window_usage.usage.get(charge.meter, EMPTY_USAGE))
            committed += sum((line.amount for line in charge_lines), ZERO)
            lines.extend(charge_lines)
        lines.extend(self._advance_lines(plan, window, "this period"))

        if plan.minimum_commitment is not None:
            commitment = round_line(plan.minimum_commitment * window.fraction, self.currency, self.request.rounding)
            if committed < commitment:
                lines.append(RatedLine(
                    line_type=LineType.MINIMUM_COMMITMENT, amount=commitment - committed, plan_id=plan.plan_id,
                    description=f"Minimum commitment true-up ({plan.name})", quantity=window.fraction,
                    service_start=window.start, service_end=window.end,
                    details=_json({"commitment": str(plan.minimum_commitment), "prorated": str(commitment),
                                   "charges": str(committed)})))
        return lines

    def _flat_fee_line(self, plan: Plan, charge: Charge, window: ServiceWindow, note: str) -> RatedLine:
        priced = charge.model.price(ChargeUsage(quantity=window.fraction, days_served=window.days,
                                                days_in_period=window.period.days))
        details = dict(priced.details, days=str((window.end_date - window.start_date).days),
                       period_days=str(window.period.days), timing=charge.model.timing.value)
        return RatedLine(
            line_type=LineType.CHARGE, amount=round_line(priced.amount, self.currency, self.request.rounding),
            plan_id=plan.plan_id, charge_id=charge.charge_id, pricing_model=charge.pricing_model,
            description=f"{charge.description}{note}", quantity=window.fraction, unit_price=priced.unit_price,
            service_start=window.start, service_end=window.end, details=_json(details))

    def _advance_lines(self, plan: Plan, window: ServiceWindow, covered: str) -> list[RatedLine]:
        lines = []
        for charge in plan.charges:
            if not isinstance(charge.model, FlatFee) or charge.model.timing is not BillingTiming.ADVANCE:
                continue
            target = self._flat_fee_line(plan, charge, window, f", in advance for {covered} ({window.period.label})")
            key = (plan.plan_id, charge.charge_id, window.start.isoformat())
            billed = self.request.advance_billed_elsewhere.get(key)
            if billed is None:
                lines.append(target)
            elif billed != target.amount:
                lines.append(RatedLine(
                    line_type=LineType.CHARGE, amount=target.amount - billed, plan_id=plan.plan_id,
                    charge_id=charge.charge_id, pricing_model=charge.pricing_model,
                    description=f"{charge.description}, correction of the fee billed in advance for {window.period.label}",
                    quantity=window.fraction, service_start=window.start, service_end=window.end,
                    details=_json({"billed": str(billed), "due": str(target.amount),
                                   "timing": BillingTiming.ADVANCE.value})))
        return lines

    def _usage_lines(self, plan: Plan, charge: Charge, window: ServiceWindow, usage: MeterUsage) -> list[RatedLine]:
        model = charge.model
        if isinstance(model, PerUnit) and model.price_by:
            return self._price_book_lines(plan, charge, window, usage)
        priced = model.price(ChargeUsage(quantity=usage.total, transactions=usage.transactions))
        return [RatedLine(
            line_type=LineType.CHARGE, amount=round_line(priced.amount, self.currency, self.request.rounding),
            plan_id=plan.plan_id, charge_id=charge.charge_id, meter=charge.meter, pricing_model=charge.pricing_model,
            description=charge.description, quantity=usage.total, unit_price=priced.unit_price,
            service_start=window.start, service_end=window.end, details=_json(priced.details))]

    def _price_book_lines(self, plan: Plan, charge: Charge, window: ServiceWindow, usage: MeterUsage) -> list[RatedLine]:
        model: PerUnit = charge.model
        quantities: dict[str, Decimal] = {}
        for dimensions, quantity in usage.by_dimensions.items():
            key = str(json.loads(dimensions).get(model.price_by, ""))
            quantities[key] = quantities.get(key, ZERO) + quantity
        lines = []
        for key in sorted(quantities):
            if key not in model.prices:
                self.missing_prices.append(f"{charge.meter}.{model.price_by}={key!r}")
                continue
            priced = model.price(ChargeUsage(quantity=quantities[key], price_key=key))
            lines.append(RatedLine(
                line_type=LineType.CHARGE, amount=round_line(priced.amount, self.currency, self.request.rounding),
                plan_id=plan.plan_id, charge_id=charge.charge_id, meter=charge.meter,
                pricing_model=charge.pricing_model, dimensions=_json({model.price_by: key}),
                description=f"{charge.description} ({model.price_by} {key})", quantity=quantities[key],
                unit_price=priced.unit_price, service_start=window.start, service_end=window.end,
                details=_json(priced.details)))
        return lines

    def _discount_lines(self, discounts: Sequence[Discount], base: Decimal, plan_id: str | None) -> list[RatedLine]:
        lines = []
        remaining = base
        for discount in discounts:
            if remaining <= 0:
                break
            if discount.kind is DiscountKind.PERCENTAGE:
                amount = round_line(remaining * discount.value / HUNDRED, self.currency, self.request.rounding)
            else:
                amount = min(round_line(discount.value, self.currency, self.request.rounding), remaining)
            remaining -= amount
            lines.append(RatedLine(line_type=LineType.DISCOUNT, amount=-amount, plan_id=plan_id,
                                   description=discount.description,
                                   details=_json({"kind": discount.kind.value, "value": str(discount.value),
                                                  "order": str(discount.order), "base": str(base)})))
        return lines

    def _sum_lines(self, *types: LineType) -> Decimal:
        return sum((line.amount for line in self.lines if not types or line.line_type in types), ZERO)

    def _result(self, credits: Decimal) -> RatedInvoice:
        subtotal = self._sum_lines(LineType.CHARGE, LineType.MINIMUM_COMMITMENT, LineType.ADJUSTMENT)
        return RatedInvoice(
            tenant_id=self.request.subscription.tenant_id, period=self.request.period, currency=self.currency,
            lines=tuple(self.lines), subtotal=subtotal, discount_total=-self._sum_lines(LineType.DISCOUNT),
            credits_applied=credits, credit_balance=self.request.credit_balance - credits,
            tax_total=self._sum_lines(LineType.TAX), total=self._sum_lines())


def _currency(request: RatingRequest, catalog: PlanCatalog) -> str:
    plan_ids = [term.plan_id for term in request.subscription.terms]
    currencies = {catalog[plan_id].currency for plan_id in plan_ids}
    if len(currencies) != 1:
        raise BillingError(f"tenant {request.subscription.tenant_id}: plans {plan_ids} mix currencies {sorted(currencies)}")
    return currencies.pop()


def _json(value: Mapping) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
