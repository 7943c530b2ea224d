"""Subscriptions and their billing periods.

A subscription gives a tenant one or more plan terms (a plan change starts a
new term), a billing time zone, calendar or anniversary periods and an anchor
day. It is read from the tenant's attributes in the tenants file for local
runs, or from a Delta table named by ``billing.subscriptions_table``.

Periods are ``[start, end)`` in local dates of the billing time zone. They are
stored as UTC instants of local midnight, converted with zoneinfo. Across a
daylight saving change a period keeps its day count, and its UTC length gains
or loses the hour. Proration counts local calendar days.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import Decimal, localcontext
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.billing.models.base import read_decimal
from pipelines.billing.money import BILLING_CONTEXT
from pipelines.billing.plans import Discount, PlanCatalog, parse_discount
from pipelines.billing.vocabulary import PeriodKind
from pipelines.config import Tenant
from pipelines.errors import BillingError, ConfigError

PERIOD_LABEL = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Term:
    """One plan from ``start_date`` (inclusive) to ``end_date`` (exclusive, None = open)."""

    plan_id: str
    start_date: date
    end_date: date | None


@dataclass(frozen=True)
class Subscription:
    """A tenant's plan terms, billing time zone, period kind and billing account settings."""

    tenant_id: str
    terms: tuple[Term, ...]
    timezone: str
    period_kind: PeriodKind
    anchor_day: int
    tax_percent: Decimal = Decimal(0)
    prepaid_credits: Decimal = Decimal(0)
    discounts: tuple[Discount, ...] = field(default_factory=tuple)

    @property
    def start_date(self) -> date:
        return self.terms[0].start_date


@dataclass(frozen=True)
class BillingPeriod:
    """A period ``[start_date, end_date)`` in local dates of ``timezone``."""

    label: str
    start_date: date
    end_date: date
    timezone: str

    @property
    def start(self) -> datetime:
        return local_midnight_utc(self.start_date, self.timezone)

    @property
    def end(self) -> datetime:
        return local_midnight_utc(self.end_date, self.timezone)

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days


@dataclass(frozen=True)
class ServiceWindow:
    """The part of a period in which one term was active, and its share of the period."""

    term: Term
    period: BillingPeriod
    start_date: date
    end_date: date

    @property
    def start(self) -> datetime:
        return local_midnight_utc(self.start_date, self.period.timezone)

    @property
    def end(self) -> datetime:
        return local_midnight_utc(self.end_date, self.period.timezone)

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days

    @property
    def fraction(self) -> Decimal:
        """Days served over days in the period, both counted in local calendar days."""
        with localcontext(BILLING_CONTEXT):
            return Decimal(self.days) / Decimal(self.period.days)


def local_midnight_utc(day: date, zone: str) -> datetime:
    """Return local midnight of ``day`` in ``zone`` as an aware UTC datetime.

    In the few zones whose clocks skip midnight, zoneinfo resolves the missing
    time with the offset before the change (``fold=0``).
    """
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def parse_period_label(label: str) -> tuple[int, int]:
    match = PERIOD_LABEL.match(label)
    if not match:
        raise BillingError(f"period must look like YYYY-MM (for example 2026-11), found {label!r}")
    return int(match.group(1)), int(match.group(2))


def shift_label(label: str, months: int) -> str:
    """Return the label ``months`` months after ``label`` (negative for before)."""
    year, month = parse_period_label(label)
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def label_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def anchored_date(year: int, month: int, anchor_day: int) -> date:
    """Return ``anchor_day`` of the month, clamped to the month's last day.

    The clamp applies to that month only: anchor 31 gives 28 or 29 February and
    31 March again.
    """
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def billing_period(subscription: Subscription, label: str) -> BillingPeriod:
    """Return the period named ``label``: the one that starts in that month."""
    year, month = parse_period_label(label)
    next_year, next_month = parse_period_label(shift_label(label, 1))
    anchor = 1 if subscription.period_kind is PeriodKind.CALENDAR else subscription.anchor_day
    return BillingPeriod(label=label, start_date=anchored_date(year, month, anchor),
                         end_date=anchored_date(next_year, next_month, anchor), timezone=subscription.timezone)


def service_windows(subscription: Subscription, period: BillingPeriod) -> list[ServiceWindow]:
    """Return the active part of each term inside ``period``, in term order."""
    windows = []
    for term in subscription.terms:
        start = max(term.start_date, period.start_date)
        end = period.end_date if term.end_date is None else min(term.end_date, period.end_date)
        if start < end:
            windows.append(ServiceWindow(term=term, period=period, start_date=start, end_date=end))
    return windows


def subscriptions_from_tenants(tenants: Iterable[Tenant], catalog: PlanCatalog) -> dict[str, Subscription]:
    """Build subscriptions from tenant attributes; tenants without ``plan`` are not billed.

    Raises ``ConfigError`` listing every invalid attribute of every tenant.
    """
    records = {tenant.tenant_id: tenant.attributes for tenant in tenants}
    return subscriptions_from_records(records, catalog, source="tenants")


def subscriptions_from_records(records: Mapping[str, Mapping[str, Any]], catalog: PlanCatalog,
                               source: str) -> dict[str, Subscription]:
    """Validate subscription attributes per tenant and build the subscriptions.

    Attributes: ``plan``, ``subscription_start`` (a date) and optional
    ``subscription_end`` (the first day without service). For plan changes, a
    ``subscriptions`` list of ``{plan, start, end}`` terms replaces those three.
    Also ``billing_timezone`` (IANA name), ``period`` (calendar or anniversary),
    ``anchor_day`` (1-31, default the start date's day), ``tax_percent``,
    ``prepaid_credits`` and ``discounts``.
    """
    problems: list[str] = []
    subscriptions = {}
    for tenant_id, attributes in sorted(records.items()):
        if "plan" not in attributes and "subscriptions" not in attributes:
            continue
        subscription = _parse_subscription(tenant_id, attributes, catalog, f"{source}: tenant {tenant_id}", problems)
        if subscription is not None:
            subscriptions[tenant_id] = subscription
    if problems:
        raise ConfigError(source, problems)
    return subscriptions


def _parse_subscription(tenant_id, attributes, catalog, where, problems) -> Subscription | None:
    raw_terms = attributes.get("subscriptions")
    if raw_terms is None:
        raw_terms = [{"plan": attributes.get("plan"), "start": attributes.get("subscription_start"),
                      "end": attributes.get("subscription_end")}]
    terms = []
    for index, raw in enumerate(raw_terms):
        term = _parse_term(raw, f"{where}: subscriptions[{index}]", catalog, problems)
        if term is not None:
            terms.append(term)
    terms.sort(key=lambda term: term.start_date)
    for earlier, later in zip(terms, terms[1:]):
        if earlier.end_date is None or earlier.end_date > later.start_date:
            problems.append(f"{where}: term on plan {earlier.plan_id} overlaps the term starting {later.start_date}; "
                            f"end it on or before that date")
    currencies = {catalog[term.plan_id].currency for term in terms if term.plan_id in catalog}
    if len(currencies) > 1:
        problems.append(f"{where}: all plans of one subscription must share a currency, found {sorted(currencies)}")

    zone = str(attributes.get("billing_timezone", "UTC"))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{where}: billing_timezone must be an IANA time zone such as Europe/Berlin, found {zone!r}")
    kinds = [item.value for item in PeriodKind]
    kind = str(attributes.get("period", PeriodKind.CALENDAR.value))
    if kind not in kinds:
        problems.append(f"{where}: period must be one of {kinds}, found {kind!r}")
    anchor = attributes.get("anchor_day")
    if anchor is not None:
        try:
            anchor = int(anchor)
        except (TypeError, ValueError):
            anchor = 0
        if not 1 <= anchor <= 31:
            problems.append(f"{where}: anchor_day must be an integer from 1 to 31, found {attributes.get('anchor_day')!r}")
    tax = read_decimal(attributes, "tax_percent", where, problems, required=False, default=Decimal(0))
    credits = read_decimal(attributes, "prepaid_credits", where, problems, required=False, default=Decimal(0))
    discounts = []
    for index, raw in enumerate(attributes.get("discounts") or []):
        discount = parse_discount(raw, f"{where}: discounts[{index}]", problems)
        if discount is not None:
            discounts.append(discount)
    if not terms or kind not in kinds:
        return None
    return Subscription(
        tenant_id=tenant_id, terms=tuple(terms), timezone=zone, period_kind=PeriodKind(kind),
        anchor_day=anchor if anchor else terms[0].start_date.day, tax_percent=tax or Decimal(0),
        prepaid_credits=credits or Decimal(0), discounts=tuple(sorted(discounts, key=lambda item: item.order)),
    )


def _parse_term(raw, where, catalog, problems) -> Term | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a mapping {{plan, start, end}}, found {raw!r}")
        return None
    plan_id = raw.get("plan")
    if plan_id not in catalog:
        problems.append(f"{where}: plan must be one of {sorted(catalog.plans)}, found {plan_id!r}")
    start = _parse_date(raw.get("start"), f"{where}: start", problems, required=True)
    end = _parse_date(raw.get("end"), f"{where}: end", problems, required=False)
    if start and end and end <= start:
        problems.append(f"{where}: end {end} must be after start {start}")
    if plan_id not in catalog or start is None:
        return None
    return Term(plan_id=str(plan_id), start_date=start, end_date=end)


def _parse_date(value, where, problems, required) -> date | None:
    if value is None or value == "":
        if required:
            problems.append(f"{where} is missing; expected a date such as 2026-01-01")
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: expected a date such as 2026-01-01, found {value!r}")
        return None
