"""Plan files and subscriptions for billing tests."""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

from pipelines.billing.plans import PlanCatalog, load_plans
from pipelines.billing.subscriptions import Subscription, Term
from pipelines.billing.vocabulary import PeriodKind

PLANS_YAML = """
plans:
  basic:
    currency: USD
    charges:
      - {id: fee, model: flat_fee, amount: "30.00", timing: arrears}
      - {id: api, meter: api_requests, model: per_unit, unit_price: "0.001", free_units: "100"}
  advance:
    currency: USD
    charges:
      - {id: fee, model: flat_fee, amount: "31.00", timing: advance}
  committed:
    currency: USD
    minimum_commitment: "50.00"
    discounts:
      - {kind: amount, amount: "3.00", order: 2}
      - {kind: percentage, percent: "10", order: 1}
    charges:
      - {id: api, meter: api_requests, model: per_unit, unit_price: "0.01"}
  yen:
    currency: JPY
    charges:
      - {id: api, meter: api_requests, model: per_unit, unit_price: "0.015"}
  dinar:
    currency: KWD
    charges:
      - {id: api, meter: api_requests, model: per_unit, unit_price: "0.0125"}
  list-price:
    currency: USD
    charges:
      - {id: list, meter: focus_pricing_quantity, model: per_unit, price_by: sku_price_id, price_book: book.csv}
"""

PRICE_BOOK = "sku_price_id,unit_price,currency\nsku-a,0.25,USD\nsku-b,1.5,USD\n"


def write_plans(directory: Path, text: str = PLANS_YAML, book: str = PRICE_BOOK) -> Path:
    path = directory / "plans.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    (directory / "book.csv").write_text(book, encoding="utf-8")
    return path


def catalog_for(directory: Path, meters) -> PlanCatalog:
    return load_plans(write_plans(directory), meters)


def subscription_on(plan_id: str, start: date = date(2026, 1, 1), end: date | None = None, *,
                    zone: str = "UTC", tax: str = "0", credits: str = "0",
                    kind: PeriodKind = PeriodKind.CALENDAR, anchor: int = 1) -> Subscription:
    return Subscription(tenant_id="t1", terms=(Term(plan_id, start, end),), timezone=zone, period_kind=kind,
                        anchor_day=anchor, tax_percent=Decimal(tax), prepaid_credits=Decimal(credits))
