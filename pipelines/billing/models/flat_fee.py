"""Flat recurring fee: a fixed amount per billing period, prorated by days."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.billing.models.base import ChargeModel, ChargeUsage, PricedAmount, read_decimal
from pipelines.billing.vocabulary import BillingTiming, PricingModel


class FlatFee(ChargeModel):
    """``amount`` per period, billed in ``advance`` or in ``arrears``.

    A partial period pays ``amount * days served / days in period``, multiplied
    before dividing so that an exact half of a minor unit stays exact for the
    rounding mode. Without day counts the quantity is the fraction served.
    """

    model = PricingModel.FLAT_FEE
    accepted_properties = frozenset({"amount", "timing"})

    def __init__(self, properties: Mapping[str, Any], where: str, problems: list[str]):
        super().__init__(properties, where, problems)
        self.amount = read_decimal(properties, "amount", where, problems)
        timing = str(properties.get("timing", BillingTiming.ARREARS.value))
        valid = [item.value for item in BillingTiming]
        if timing not in valid:
            problems.append(f"{where}: timing must be one of {valid}, found {timing!r}")
            timing = BillingTiming.ARREARS.value
        self.timing = BillingTiming(timing)

    def _price(self, usage: ChargeUsage) -> PricedAmount:
        if usage.days_served is not None and usage.days_in_period:
            amount = self.amount * usage.days_served / usage.days_in_period
        else:
            amount = self.amount * usage.quantity
        return PricedAmount(amount=amount, units=usage.quantity, unit_price=self.amount,
                            details={"fee": str(self.amount), "period_fraction": str(usage.quantity)})
