"""Graduated tiers: each tier prices only the units that fall inside it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.billing.models.base import ZERO, ChargeModel, ChargeUsage, PricedAmount, read_tiers
from pipelines.billing.vocabulary import PricingModel


class Graduated(ChargeModel):
    """Units in ``(lower, up_to]`` of each tier at that tier's price.

    A tier's ``flat_fee`` is charged once the quantity is greater than the
    tier's lower bound. So a quantity of 0 costs nothing, and a quantity exactly
    on a bound pays no fee of the next tier.
    """

    model = PricingModel.GRADUATED
    accepted_properties = frozenset({"tiers"})

    def __init__(self, properties: Mapping[str, Any], where: str, problems: list[str]):
        super().__init__(properties, where, problems)
        self.tiers = read_tiers(properties, where, problems)

    def _price(self, usage: ChargeUsage) -> PricedAmount:
        quantity = usage.quantity
        amount = ZERO
        breakdown = []
        for tier in self.tiers:
            if quantity <= tier.lower:
                break
            top = quantity if tier.upper is None else min(quantity, tier.upper)
            units = top - tier.lower
            tier_amount = units * tier.unit_price + tier.flat_fee
            amount += tier_amount
            breakdown.append({"from": str(tier.lower), "up_to": None if tier.upper is None else str(tier.upper),
                              "units": str(units), "unit_price": str(tier.unit_price),
                              "flat_fee": str(tier.flat_fee), "amount": str(tier_amount)})
        return PricedAmount(amount=amount, units=quantity, details={"tiers": breakdown})
