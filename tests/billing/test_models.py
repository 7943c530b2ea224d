"""Pricing models at their edges: 0, 1, the last unit of a tier, the first of the next."""

from decimal import Decimal as D

import pytest

from pipelines.billing.models import ChargeUsage, FlatFee, Graduated, Package, Percentage, PerUnit, Volume


def build(model_class, **properties):
    problems: list[str] = []
    model = model_class(properties, "test", problems)
    assert problems == []
    return model


def amount(model, quantity, transactions=()):
    return model.price(ChargeUsage(quantity=D(quantity), transactions=tuple(D(v) for v in transactions))).amount


GRADUATED_TIERS = [
    {"up_to": "100", "unit_price": "1.00"},
    {"up_to": "1000", "unit_price": "0.50", "flat_fee": "10"},
    {"up_to": None, "unit_price": "0.10", "flat_fee": "20"},
]


@pytest.mark.parametrize(("quantity", "expected"), [
    ("0", "0"),
    ("1", "1.00"),
    ("100", "100.00"),            # last unit of tier 1: no fee of tier 2
    ("101", "110.50"),            # first unit of tier 2 pays its flat fee
    ("1000", "560.00"),           # 100 + 900 * 0.5 + 10
    ("1001", "580.10"),           # all three tiers
    ("100.5", "110.250"),         # fractional quantity crosses the bound
])
def test_graduated_tier_edges(quantity, expected):
    model = build(Graduated, tiers=GRADUATED_TIERS)

    assert amount(model, quantity) == D(expected)


@pytest.mark.parametrize(("quantity", "expected"), [
    ("0", "0"),
    ("1", "1.00"),
    ("100", "100.00"),
    ("101", "60.50"),             # every unit at 0.50, plus the tier's fee 10
    ("1001", "120.10"),
])
def test_volume_tier_edges(quantity, expected):
    model = build(Volume, tiers=GRADUATED_TIERS)

    assert amount(model, quantity) == D(expected)


@pytest.mark.parametrize(("quantity", "expected"), [
    ("0", "0"), ("5", "0"), ("6", "2.50"), ("15", "2.50"), ("16", "5.00"), ("15.000001", "5.00"),
])
def test_package_blocks_after_free_units(quantity, expected):
    model = build(Package, amount="2.50", package_size="10", free_units="5")

    assert amount(model, quantity) == D(expected)


@pytest.mark.parametrize(("quantity", "expected"), [
    ("0", "0"), ("1000", "0"), ("1001", "0.0004"), ("1000.5", "0.0002"),
])
def test_per_unit_free_units(quantity, expected):
    model = build(PerUnit, unit_price="0.0004", free_units="1000")

    assert amount(model, quantity) == D(expected)


def test_flat_fee_prorates_by_days():
    model = build(FlatFee, amount="29.00", timing="advance")

    result = model.price(ChargeUsage(quantity=D(14) / D(29), days_served=14, days_in_period=29))

    assert result.amount == D("14.00")


def test_percentage_minimum_and_maximum_per_transaction():
    model = build(Percentage, percent="2.9", fixed_fee="0.30", min_per_transaction="0.50",
                  max_per_transaction="5.00", free_transactions=1)

    # First transaction is free; 1.00 -> 0.329 -> minimum 0.50; 100 -> 3.20; 1000 -> 29.30 -> maximum 5.00.
    result = model.price(ChargeUsage(quantity=D("1101"), transactions=(D("500"), D("1.00"), D("100"), D("1000"))))

    assert result.amount == D("8.70")
    assert result.details["clamped_to_minimum"] == 1
    assert result.details["clamped_to_maximum"] == 1


def test_percentage_without_transactions_is_zero():
    model = build(Percentage, percent="1")

    assert amount(model, "0") == D("0")


def test_plan_properties_reject_floats_and_bad_tiers():
    problems: list[str] = []

    Graduated({"tiers": [{"up_to": 100.0, "unit_price": "1"}, {"up_to": "50", "unit_price": "1"}]}, "plans.x", problems)

    assert any("float 100.0" in problem for problem in problems)
    assert any("last tier must have up_to: null" in problem for problem in problems)
