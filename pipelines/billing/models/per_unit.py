"""Per unit: every billable unit at one price, after the free units of the period."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.billing.models.base import ZERO, ChargeModel, ChargeUsage, PricedAmount, read_decimal
from pipelines.billing.vocabulary import PricingModel


class PerUnit(ChargeModel):
    """``unit_price`` per unit above ``free_units``.

    With ``price_by`` the price comes from a price book keyed by the value of
    that dimension (``prices``, filled by the plan loader), and each dimension
    value becomes its own line. Free units are not allowed with ``price_by``
    because no order of dimension values to draw them from would be obvious.
    """

    model = PricingModel.PER_UNIT
    accepted_properties = frozenset({"unit_price", "free_units", "price_by", "price_book"})

    def __init__(self, properties: Mapping[str, Any], where: str, problems: list[str]):
        super().__init__(properties, where, problems)
        self.price_by = _read_name(properties, "price_by", "the dimension that selects the price", where, problems)
        self.price_book = _read_name(properties, "price_book", "a CSV file path relative to the plan file",
                                     where, problems)
        self.prices: dict[str, Any] = {}
        self.free_units = read_decimal(properties, "free_units", where, problems, required=False, default=ZERO)
        if properties.get("price_by") is not None and self.price_by is None:
            # price_by is present but invalid (already reported), so whether
            # unit_price is needed is unknown.
            self.unit_price = None
        elif self.price_by is None:
            self.unit_price = read_decimal(properties, "unit_price", where, problems)
            if self.price_book is not None:
                problems.append(f"{where}: price_book needs price_by (the dimension that selects the price)")
        else:
            self.unit_price = None
            if "unit_price" in properties:
                problems.append(f"{where}: set either unit_price or price_by with price_book, not both")
            if properties.get("price_book") is None:
                problems.append(f"{where}: price_by {self.price_by!r} needs price_book (a CSV file of prices)")
            if self.free_units:
                problems.append(f"{where}: free_units cannot be combined with price_by")

    def _price(self, usage: ChargeUsage) -> PricedAmount:
        unit_price = self.unit_price
        if self.price_by is not None:
            if usage.price_key not in self.prices:
                raise KeyError(usage.price_key)
            unit_price = self.prices[usage.price_key]
        units = max(ZERO, usage.quantity - self.free_units)
        return PricedAmount(amount=units * unit_price, units=units, unit_price=unit_price,
                            details={"quantity": str(usage.quantity), "free_units": str(self.free_units),
                                     "billable_units": str(units), "unit_price": str(unit_price)})


def _read_name(properties: Mapping[str, Any], key: str, meaning: str, where: str, problems: list[str]) -> str | None:
    """Return a non-empty string property, or None when it is absent or invalid (then append a problem)."""
    value = properties.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: {key} must be a non-empty string ({meaning}), found {value!r}")
        return None
    return value
