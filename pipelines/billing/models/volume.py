"""Volume tiers: the tier the whole quantity falls in prices every unit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.billing.models.base import ZERO, ChargeModel, ChargeUsage, PricedAmount, read_tiers
from pipelines.billing.vocabulary import PricingModel


class Volume(ChargeModel):
    """All units at the price of the tier whose ``(lower, up_to]`` contains the quantity.

    That tier's ``flat_fee`` is added once. A quantity of 0 costs nothing.
    """

    model = PricingModel.VOLUME
    accepted_properties = frozenset({"tiers"})

    def __init__(self, properties: Mapping[str, Any], where: str, problems: list[str]):
        super().__init__(properties, where, problems)
        self.tiers = read_tiers(properties, where, problems)

    def _price(self, usage: ChargeUsage) -> PricedAmount:
        quantity = usage.quantity
        if quantity == 0:
            return PricedAmount(amount=ZERO, units=ZERO, details={"tier": None})
        tier = next(item for item in self.tiers if item.upper is None or quantity <= item.upper)
        amount = quantity * tier.unit_price + tier.flat_fee
        return PricedAmount(amount=amount, units=quantity, unit_price=tier.unit_price,
                            details={"tier": {"from": str(tier.lower),
                                              "up_to": None if tier.upper is None else str(tier.upper),
                                              "unit_price": str(tier.unit_price), "flat_fee": str(tier.flat_fee)}})
