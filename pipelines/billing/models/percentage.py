"""Percentage: a share of each transaction's monetary value, with per-transaction fees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.billing.models.base import ZERO, ChargeModel, ChargeUsage, PricedAmount, read_decimal
from pipelines.billing.vocabulary import PricingModel

HUNDRED = 100


class Percentage(ChargeModel):
    """``percent`` of each transaction value plus ``fixed_fee``, clamped per transaction.

    Transactions are the meter's events in event-time order, each with the value
    at the meter's ``value_path``. The first ``free_transactions`` of the period
    are free. Each remaining transaction pays
    ``clamp(value * percent / 100 + fixed_fee, min_per_transaction, max_per_transaction)``,
    and nothing is rounded before the line total.
    """

    model = PricingModel.PERCENTAGE
    accepted_properties = frozenset({"percent", "fixed_fee", "min_per_transaction",
                                     "max_per_transaction", "free_transactions"})

    def __init__(self, properties: Mapping[str, Any], where: str, problems: list[str]):
        super().__init__(properties, where, problems)
        self.percent = read_decimal(properties, "percent", where, problems)
        self.fixed_fee = read_decimal(properties, "fixed_fee", where, problems, required=False, default=ZERO)
        self.minimum = read_decimal(properties, "min_per_transaction", where, problems, required=False)
        self.maximum = read_decimal(properties, "max_per_transaction", where, problems, required=False)
        free = properties.get("free_transactions", 0)
        if isinstance(free, bool) or not isinstance(free, int) or free < 0:
            problems.append(f"{where}: free_transactions must be an integer >= 0, found {free!r}")
            free = 0
        self.free_transactions = free
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            problems.append(f"{where}: min_per_transaction {self.minimum} is greater than max_per_transaction {self.maximum}")

    @property
    def needs_transactions(self) -> bool:
        return True

    def _price(self, usage: ChargeUsage) -> PricedAmount:
        billable = usage.transactions[self.free_transactions:]
        amount = ZERO
        clamped_to_minimum = 0
        clamped_to_maximum = 0
        for value in billable:
            fee = value * self.percent / HUNDRED + self.fixed_fee
            if self.minimum is not None and fee < self.minimum:
                fee = self.minimum
                clamped_to_minimum += 1
            if self.maximum is not None and fee > self.maximum:
                fee = self.maximum
                clamped_to_maximum += 1
            amount += fee
        return PricedAmount(amount=amount, units=usage.quantity,
                            details={"transactions": len(usage.transactions),
                                     "free_transactions": min(self.free_transactions, len(usage.transactions)),
                                     "percent": str(self.percent), "fixed_fee": str(self.fixed_fee),
                                     "clamped_to_minimum": clamped_to_minimum,
                                     "clamped_to_maximum": clamped_to_maximum})
