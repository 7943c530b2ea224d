"""Period labels: one ASCII validator for billing, reconciliation and exports."""

from datetime import date, datetime, timezone

import pytest

from pipelines.billing.periods import parse_period, split_period
from pipelines.billing.subscriptions import (
    Subscription,
    Term,
    billing_period,
    parse_period_label,
    shift_label,
)
from pipelines.billing.vocabulary import PeriodKind
from pipelines.errors import BillingError, MeterhouseError
from pipelines.reconciliation.conservation import month_bounds

UTC = timezone.utc

MALFORMED = [
    "2026-11\n",
    "2026-11 ",
    " 2026-11",
    "\uff12\uff10\uff12\uff16-\uff11\uff11",  # full-width digits
    "2026-\u0661\u0661",  # Arabic-Indic digits
    "2026-1",
    "2026-13",
    "2026-00",
    "26-11",
    "20261-01",
    "2026/11",
    "2026-11-01",
    "",
    None,
    202611,
]
OUT_OF_RANGE = ["0000-01", "0001-01", "0001-12", "9999-01", "9999-12"]
VALID = {"0002-01": (2, 1), "2026-11": (2026, 11), "2024-12": (2024, 12), "9998-12": (9998, 12)}


@pytest.mark.parametrize("label", MALFORMED)
def test_parse_period_rejects_malformed(label):
    with pytest.raises(BillingError) as raised:
        parse_period(label)

    assert str(raised.value) == f"--period must be YYYY-MM (for example 2026-11), found {label!r}"


@pytest.mark.parametrize("label", OUT_OF_RANGE)
def test_parse_period_rejects_out_of_range_year(label):
    with pytest.raises(BillingError) as raised:
        parse_period(label)

    assert str(raised.value) == f"--period must be a month from 0002-01 to 9998-12, found {label!r}"


@pytest.mark.parametrize(("label", "expected"), VALID.items())
def test_parse_period_accepts_bounds(label, expected):
    assert parse_period(label) == expected
    assert parse_period_label(label) == expected


def test_parse_period_names_the_option():
    with pytest.raises(BillingError, match=r"^--month must be YYYY-MM"):
        parse_period("2026-13", name="--month")


@pytest.mark.parametrize("label", MALFORMED + OUT_OF_RANGE)
def test_month_bounds_uses_same_validator(label):
    with pytest.raises(MeterhouseError) as raised:
        month_bounds(label)

    assert isinstance(raised.value, BillingError)
    assert str(raised.value).startswith("--period must be")
    assert repr(label) in str(raised.value)


@pytest.mark.parametrize("label", MALFORMED + OUT_OF_RANGE)
def test_parse_period_label_uses_same_validator(label):
    with pytest.raises(BillingError, match=r"^--period must be"):
        parse_period_label(label)


def test_month_bounds_at_limits():
    assert month_bounds("2024-12") == (datetime(2024, 12, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    assert month_bounds("9998-12") == (datetime(9998, 12, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))
    assert month_bounds("0002-01") == (datetime(2, 1, 1, tzinfo=UTC), datetime(2, 2, 1, tzinfo=UTC))


def test_last_period_and_following_period_compute():
    # Billing also reads the period after the requested one (advance fees).
    subscription = Subscription(tenant_id="t1", terms=(Term("p", date(9998, 1, 1), None),),
                                timezone="Pacific/Honolulu", period_kind=PeriodKind.CALENDAR, anchor_day=1)

    last = billing_period(subscription, "9998-12")
    following = billing_period(subscription, shift_label("9998-12", 1))

    assert (last.start_date, last.end_date) == (date(9998, 12, 1), date(9999, 1, 1))
    assert (following.start_date, following.end_date) == (date(9999, 1, 1), date(9999, 2, 1))
    assert following.end == datetime(9999, 2, 1, 10, tzinfo=UTC)


def test_first_period_east_of_utc():
    subscription = Subscription(tenant_id="t1", terms=(Term("p", date(2, 1, 1), None),),
                                timezone="Asia/Tokyo", period_kind=PeriodKind.CALENDAR, anchor_day=1)

    period = billing_period(subscription, "0002-01")

    # Before 1888 the tz database gives Tokyo its local mean time, +09:18:59.
    assert period.start == datetime(1, 12, 31, 14, 41, 1, tzinfo=UTC)


def test_split_period_skips_year_bounds():
    assert split_period("9999-01") == (9999, 1)
    with pytest.raises(BillingError, match="YYYY-MM"):
        split_period("2026-11\n")
