"""Billing periods: anchors at month ends, leap years, time zones and daylight saving time."""

from datetime import date, datetime, timezone
from decimal import Decimal as D

from pipelines.billing.subscriptions import Subscription, Term, billing_period, service_windows
from pipelines.billing.vocabulary import PeriodKind

UTC = timezone.utc


def subscription(zone="UTC", kind=PeriodKind.CALENDAR, anchor=1, terms=(Term("p", date(2026, 1, 1), None),)):
    return Subscription(tenant_id="t1", terms=tuple(terms), timezone=zone, period_kind=kind, anchor_day=anchor)


def test_anchor_31_clamps_and_returns():
    anniversary = subscription(kind=PeriodKind.ANNIVERSARY, anchor=31, terms=(Term("p", date(2026, 1, 31), None),))

    january = billing_period(anniversary, "2026-01")
    february = billing_period(anniversary, "2026-02")
    march = billing_period(anniversary, "2026-03")

    assert (january.start_date, january.end_date) == (date(2026, 1, 31), date(2026, 2, 28))
    assert (february.start_date, february.end_date) == (date(2026, 2, 28), date(2026, 3, 31))
    assert (march.start_date, march.end_date) == (date(2026, 3, 31), date(2026, 4, 30))


def test_anchor_29_in_leap_february():
    anniversary = subscription(kind=PeriodKind.ANNIVERSARY, anchor=29)

    period = billing_period(anniversary, "2028-02")

    assert (period.start_date, period.end_date) == (date(2028, 2, 29), date(2028, 3, 29))


def test_leap_february_proration():
    started = subscription(terms=(Term("p", date(2028, 2, 15), None),))

    window = service_windows(started, billing_period(started, "2028-02"))[0]

    assert (window.days, window.period.days) == (15, 29)


def test_tokyo_period_in_utc():
    tokyo = subscription(zone="Asia/Tokyo")

    period = billing_period(tokyo, "2026-11")

    assert period.start == datetime(2026, 10, 31, 15, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 30, 15, tzinfo=UTC)


def test_honolulu_period_in_utc():
    honolulu = subscription(zone="Pacific/Honolulu")

    period = billing_period(honolulu, "2026-11")

    assert period.start == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert period.end == datetime(2026, 12, 1, 10, tzinfo=UTC)


def test_dst_change_keeps_days():
    new_york = subscription(zone="America/New_York")

    period = billing_period(new_york, "2026-11")

    # Daylight saving time ends on 1 November 2026: the period starts at UTC-4 and ends at UTC-5.
    assert period.start == datetime(2026, 11, 1, 4, tzinfo=UTC)
    assert period.end == datetime(2026, 12, 1, 5, tzinfo=UTC)
    assert period.days == 30
    assert (period.end - period.start).total_seconds() == 30 * 86400 + 3600


def test_plan_change_splits_period():
    changed = subscription(terms=(Term("a", date(2026, 1, 1), date(2026, 11, 11)), Term("b", date(2026, 11, 11), None)))

    windows = service_windows(changed, billing_period(changed, "2026-11"))

    assert [(window.term.plan_id, window.days) for window in windows] == [("a", 10), ("b", 20)]


def test_cancellation_ends_window():
    cancelled = subscription(terms=(Term("a", date(2026, 1, 1), date(2026, 11, 16)),))

    assert service_windows(cancelled, billing_period(cancelled, "2026-12")) == []
    assert service_windows(cancelled, billing_period(cancelled, "2026-11"))[0].days == 15
