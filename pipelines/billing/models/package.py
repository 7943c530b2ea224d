"""Package: a price per started block of ``package_size`` units, after free units."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING
from typing import Any

from pipelines.billing.models.base import ZERO, ChargeModel, ChargeUsage, PricedAmount, read_decimal
from pipelines.billing.vocabulary import PricingModel


class Package(ChargeModel):
    """``amount`` for each started block of ``package_size`` billable units.

    Billable units are the quantity minus ``free_units``. One unit past a block
    boundary starts (and pays for) a whole new block.
    """

    model = PricingModel.PACKAGE
    accepted_properties = frozenset({"amount", "package_size", "free_units"})

    def __init__(self, properties: Mapping[str, Any], where: str, problems: list[str]):
        super().__init__(properties, where, problems)
        self.amount = read_decimal(properties, "amount", where, problems)
        self.package_size = read_decimal(properties, "package_size", where, problems, positive=True)
        self.free_units = read_decimal(properties, "free_units", where, problems, required=False, default=ZERO)

    def _price(self, usage: ChargeUsage) -> PricedAmount:
        units = max(ZERO, usage.quantity - self.free_units)
        packages = (units / self.package_size).to_integral_value(rounding=ROUND_CEILING)
        return PricedAmount(amount=packages * self.amount, units=packages, unit_price=self.amount,
                            details={"quantity": str(usage.quantity), "free_units": str(self.free_units),
                                     "package_size": str(self.package_size), "packages": str(packages)})
