"""Invoice rating without Spark: line order, rounding, proration, commitments, discounts, credits, tax."""

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from pipelines.billing.models import ChargeUsage, Volume
from pipelines.billing.rating import Adjustment, MeterUsage, RatingRequest, WindowUsage, rate_invoice
from pipelines.billing.subscriptions import Term, billing_period, service_windows, shift_label
from pipelines.billing.vocabulary import LineType, PeriodKind
from pipelines.errors import BillingError
from tests.billing.helpers import catalog_for, subscription_on


@pytest.fixture
def catalog(tmp_path, settings):
    return catalog_for(tmp_path, settings.meters)


def rate(catalog, subscription, label, usage=None, **request):
    period = billing_period(subscription, label)
    windows = [WindowUsage(window=window, usage=usage or {}) for window in service_windows(subscription, period)]
    next_windows = service_windows(subscription, billing_period(subscription, shift_label(label, 1)))
    return rate_invoice(RatingRequest(subscription=subscription, period=period, windows=windows,
                                      next_windows=next_windows, **request), catalog)


def api_usage(quantity):
    return {"api_requests": MeterUsage(total=D(quantity), by_dimensions={'{"region":"eu"}': D(quantity)})}


def test_total_is_sum_of_rounded_lines(catalog):
    invoice = rate(catalog, subscription_on("basic", tax="8.875"), "2026-11", api_usage("1234"))

    # 1,134 billable requests cost 1.134; tax is 8.875% of 31.13 = 2.7627875.
    assert [line.amount for line in invoice.lines] == [D("30.00"), D("1.13"), D("2.76")]
    assert invoice.total == sum(line.amount for line in invoice.lines)
    assert invoice.total == D("33.89")


def test_leap_february_prorates_flat_fee(catalog):
    invoice = rate(catalog, subscription_on("basic", start=date(2028, 2, 15)), "2028-02")

    fee = invoice.lines[0]
    assert fee.amount == D("15.52")  # 30.00 * 15 / 29 = 15.5172...
    assert '"days":"15"' in fee.details
    assert '"period_days":"29"' in fee.details


def test_plan_change_prorates_both_sides(catalog):
    subscription = replace(subscription_on("basic"), terms=(
        Term("basic", date(2026, 1, 1), date(2026, 11, 21)), Term("committed", date(2026, 11, 21), None)))

    invoice = rate(catalog, subscription, "2026-11")

    assert [(line.plan_id, line.line_type, line.amount) for line in invoice.lines] == [
        ("basic", LineType.CHARGE, D("20.00")),              # 30.00 * 20 / 30 days
        ("basic", LineType.CHARGE, D("0.00")),
        ("committed", LineType.CHARGE, D("0.00")),
        ("committed", LineType.MINIMUM_COMMITMENT, D("16.67")),  # 50.00 * 10 / 30 days
        ("committed", LineType.DISCOUNT, D("-1.67")),
        ("committed", LineType.DISCOUNT, D("-3.00")),
    ]


def test_advance_fee_first_invoice_bills_two_periods(catalog):
    subscription = subscription_on("advance", start=date(2026, 1, 31), kind=PeriodKind.ANNIVERSARY, anchor=31)

    invoice = rate(catalog, subscription, "2026-01")

    # Anchor 31: the first period is 31 Jan - 28 Feb (28 days), the next 28 Feb - 31 Mar (31 days).
    assert [line.amount for line in invoice.lines] == [D("31.00"), D("31.00")]
    assert [line.service_start.date() for line in invoice.lines] == [date(2026, 1, 31), date(2026, 2, 28)]


def test_advance_fee_billed_elsewhere_is_not_billed_again(catalog):
    subscription = subscription_on("advance", end=date(2026, 11, 16))
    first_window = service_windows(subscription, billing_period(subscription, "2026-11"))[0]
    key = ("advance", "fee", first_window.start.isoformat())

    invoice = rate(catalog, subscription, "2026-11", advance_billed_elsewhere={key: D("31.00")})

    # Cancelled on 16 November after the full fee was billed: 15 of 30 days are refunded.
    assert [line.amount for line in invoice.lines] == [D("-15.50")]


def test_commitment_discounts_credits_and_tax_order(catalog):
    subscription = subscription_on("committed", tax="10", credits="20.00")

    invoice = rate(catalog, subscription, "2026-11", api_usage("1000"), credit_balance=D("20.00"),
                   adjustments=[Adjustment("inv-1", "2026-10", D("4.00"), {})])

    assert [(line.line_type, line.amount) for line in invoice.lines] == [
        (LineType.CHARGE, D("10.00")),
        (LineType.MINIMUM_COMMITMENT, D("40.00")),
        (LineType.DISCOUNT, D("-5.00")),      # 10% of 50.00 (order 1)
        (LineType.DISCOUNT, D("-3.00")),      # then 3.00 (order 2)
        (LineType.ADJUSTMENT, D("4.00")),
        (LineType.CREDIT, D("-20.00")),
        (LineType.TAX, D("2.60")),            # 10% of 26.00
    ]
    assert invoice.total == D("28.60")
    assert invoice.credit_balance == D("0.00")


def test_credits_never_go_negative(catalog):
    invoice = rate(catalog, subscription_on("basic"), "2026-11", api_usage("0"), credit_balance=D("100.00"))

    assert invoice.credits_applied == D("30.00")
    assert invoice.credit_balance == D("70.00")
    assert invoice.total == D("0.00")


@pytest.mark.parametrize(("plan_id", "quantity", "rounding", "expected"), [
    ("yen", "1001", "ROUND_HALF_UP", D("15")),         # 15.015 yen
    ("yen", "100", "ROUND_HALF_UP", D("2")),            # 1.5 yen, half up
    ("yen", "100", "ROUND_HALF_EVEN", D("2")),
    ("yen", "300", "ROUND_HALF_EVEN", D("4")),          # 4.5 yen, half to even
    ("dinar", "1", "ROUND_HALF_UP", D("0.013")),        # 0.0125 dinar
    ("dinar", "1", "ROUND_HALF_EVEN", D("0.012")),
])
def test_minor_unit_rounding(catalog, plan_id, quantity, rounding, expected):
    invoice = rate(catalog, subscription_on(plan_id), "2026-11", api_usage(quantity), rounding=rounding)

    assert invoice.lines[0].amount == expected
    assert invoice.total == expected


def test_price_book_lines_per_dimension(catalog):
    usage = {"focus_pricing_quantity": MeterUsage(total=D("12"), by_dimensions={
        '{"sku_price_id":"sku-b"}': D("2"), '{"sku_price_id":"sku-a"}': D("10")})}

    invoice = rate(catalog, subscription_on("list-price"), "2026-11", usage)

    assert [(line.dimensions, line.amount) for line in invoice.lines] == [
        ('{"sku_price_id":"sku-a"}', D("2.50")), ('{"sku_price_id":"sku-b"}', D("3.00"))]


def test_price_book_missing_sku_raises(catalog):
    usage = {"focus_pricing_quantity": MeterUsage(total=D("1"), by_dimensions={'{"sku_price_id":"sku-z"}': D("1")})}

    with pytest.raises(BillingError, match="sku-z"):
        rate(catalog, subscription_on("list-price"), "2026-11", usage)


def test_lago_volume_example():
    # Lago's volume charge model documentation: four tiers with a 10 USD fee
    # each; 65,000 API calls fall in tier 3 and cost 65,000 x 0.0006 + 10 = 49.
    problems: list[str] = []
    model = Volume({"tiers": [
        {"up_to": "10000", "unit_price": "0.0010", "flat_fee": "10"},
        {"up_to": "50000", "unit_price": "0.0008", "flat_fee": "10"},
        {"up_to": "100000", "unit_price": "0.0006", "flat_fee": "10"},
        {"up_to": None, "unit_price": "0.0004", "flat_fee": "10"},
    ]}, "lago", problems)

    assert model.price(ChargeUsage(quantity=D("65000"))).amount == D("49")
