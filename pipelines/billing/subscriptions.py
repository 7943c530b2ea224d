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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pipelines.billing.models.base import read_decimal
from pipelines.billing.money import BILLING_CONTEXT
from pipelines.billing.periods import next_month, parse_period, split_period
from pipelines.billing.plans import Discount, PlanCatalog, parse_discount
from pipelines.billing.vocabulary import PeriodKind
from pipelines.config import Tenant
from pipelines.errors import ConfigError

MAX_TAX_PERCENT = 100
# Names in the host's zoneinfo folder that are not IANA zones: ``localtime`` is
# a copy of whatever zone the host runs in, so billing would change with the host.
HOST_ZONE_NAMES = frozenset({"localtime"})


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
    """Validate a ``--period`` label (see ``pipelines.billing.periods``) and return ``(year, month)``."""
    return parse_period(label)


def shift_label(label: str, months: int) -> str:
    """Return the label ``months`` months after ``label`` (negative for before)."""
    year, month = split_period(label)
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
    year, month = split_period(label)
    end_year, end_month = next_month(year, month)
    anchor = 1 if subscription.period_kind is PeriodKind.CALENDAR else subscription.anchor_day
    return BillingPeriod(label=label, start_date=anchored_date(year, month, anchor),
                         end_date=anchored_date(end_year, end_month, anchor), timezone=subscription.timezone)


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
    terms = _parse_terms(attributes, catalog, where, problems)
    terms.sort(key=lambda term: term.start_date)
    for earlier, later in zip(terms, terms[1:]):
        if earlier.end_date is None or earlier.end_date > later.start_date:
            problems.append(f"{where}: term on plan {earlier.plan_id} overlaps the term starting {later.start_date}; "
                            f"end it on or before that date")
    currencies = {catalog[term.plan_id].currency for term in terms if term.plan_id in catalog}
    if len(currencies) > 1:
        problems.append(f"{where}: all plans of one subscription must share a currency, found {sorted(currencies)}")

    zone = _parse_timezone(attributes.get("billing_timezone", "UTC"), where, problems)
    kinds = [item.value for item in PeriodKind]
    kind = str(attributes.get("period", PeriodKind.CALENDAR.value))
    if kind not in kinds:
        problems.append(f"{where}: period must be one of {kinds}, found {kind!r}")
    anchor = _parse_anchor_day(attributes.get("anchor_day"), where, problems)
    tax = read_decimal(attributes, "tax_percent", where, problems, required=False, default=Decimal(0))
    if tax is not None and tax > MAX_TAX_PERCENT:
        problems.append(f"{where}: tax_percent must be from 0 to {MAX_TAX_PERCENT}, found {attributes['tax_percent']!r}")
        tax = None
    credits = read_decimal(attributes, "prepaid_credits", where, problems, required=False, default=Decimal(0))
    discounts = _parse_discount_list(attributes.get("discounts"), f"{where}: discounts", problems)
    if not terms or kind not in kinds or zone is None:
        return None
    return Subscription(
        tenant_id=tenant_id, terms=tuple(terms), timezone=zone, period_kind=PeriodKind(kind),
        anchor_day=anchor if anchor else terms[0].start_date.day, tax_percent=tax or Decimal(0),
        prepaid_credits=credits or Decimal(0), discounts=tuple(sorted(discounts, key=lambda item: item.order)),
    )


def _parse_terms(attributes, catalog, where, problems) -> list[Term]:
    raw_terms = attributes.get("subscriptions")
    if raw_terms is None:
        raw_terms = [{"plan": attributes.get("plan"), "start": attributes.get("subscription_start"),
                      "end": attributes.get("subscription_end")}]
    elif not isinstance(raw_terms, list) or not raw_terms:
        problems.append(f"{where}: subscriptions must be a non-empty list of {{plan, start, end}} terms, "
                        f"found {raw_terms!r}")
        return []
    terms = []
    for index, raw in enumerate(raw_terms):
        term = _parse_term(raw, f"{where}: subscriptions[{index}]", catalog, problems)
        if term is not None:
            terms.append(term)
    return terms


def _parse_timezone(value, where, problems) -> str | None:
    # ZoneInfo alone also accepts host files such as "localtime", so the name
    # must be one of the zones the installed tz database lists.
    if isinstance(value, str) and value not in HOST_ZONE_NAMES and value in _iana_zone_names():
        try:
            ZoneInfo(value)
            return value
        except (ZoneInfoNotFoundError, ValueError):
            pass
    problems.append(f"{where}: billing_timezone must be an IANA time zone such as Europe/Berlin, found {value!r}")
    return None


@lru_cache(maxsize=1)
def _iana_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _parse_anchor_day(value, where, problems) -> int | None:
    """Return ``anchor_day``, an int from 1 to 31 or a string of ASCII digits, or None when it is absent."""
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        anchor = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        anchor = value
    else:
        anchor = 0
    if not 1 <= anchor <= 31:
        problems.append(f"{where}: anchor_day must be an integer from 1 to 31, found {value!r}")
        return None
    return anchor


def _parse_discount_list(raw, where, problems) -> list[Discount]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(f"{where}: expected a list of discounts, found {raw!r}")
        return []
    discounts = []
    for index, item in enumerate(raw):
        discount = parse_discount(item, f"{where}[{index}]", problems)
        if discount is not None:
            discounts.append(discount)
    return discounts


def _parse_term(raw, where, catalog, problems) -> Term | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a mapping {{plan, start, end}}, found {raw!r}")
        return None
    plan_id = raw.get("plan")
    known_plan = isinstance(plan_id, str) and plan_id in catalog
    if not known_plan:
        problems.append(f"{where}: plan must be one of {sorted(catalog.plans)}, found {plan_id!r}")
    start = _parse_date(raw.get("start"), f"{where}: start", problems, required=True)
    end = _parse_date(raw.get("end"), f"{where}: end", problems, required=False)
    if start and end and end <= start:
        problems.append(f"{where}: end {end} must be after start {start}")
    if not known_plan or start is None:
        return None
    return Term(plan_id=plan_id, start_date=start, end_date=end)


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
