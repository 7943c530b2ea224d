"""Plan and subscription validation: every problem reported at once."""

from pathlib import Path

import pytest

from tests.billing.helpers import catalog_for, write_plans
from pipelines.billing.plans import load_plans
from pipelines.billing.subscriptions import subscriptions_from_records
from pipelines.config import PROJECT_ROOT
from pipelines.errors import ConfigError

BROKEN_PLANS = """
plans:
  broken:
    currency: XXX
    charges:
      - {id: api, meter: no_such_meter, model: per_unit, unit_price: 0.5}
      - {id: tiers, meter: compute_seconds, model: graduated, tiers: [{up_to: "10", unit_price: "1"}]}
      - {id: odd, meter: api_requests, model: banded}
"""


def test_plan_file_reports_every_problem(tmp_path, settings):
    path = write_plans(tmp_path, BROKEN_PLANS)

    with pytest.raises(ConfigError) as raised:
        load_plans(path, settings.meters)

    problems = "\n".join(raised.value.problems)
    assert "currency must be an ISO 4217 code" in problems
    assert "meter must be one of" in problems
    assert "found float 0.5" in problems
    assert "last tier must have up_to: null" in problems
    assert "model must be one of" in problems


def test_price_book_currency_mismatch(tmp_path, settings):
    path = write_plans(tmp_path, book="sku_price_id,unit_price,currency\nsku-a,0.25,EUR\n")

    with pytest.raises(ConfigError, match="another currency"):
        load_plans(path, settings.meters)


def test_subscription_reports_every_problem(tmp_path, settings):
    catalog = catalog_for(tmp_path, settings.meters)
    records = {"t1": {"plan": "missing", "subscription_start": "2026-13-01", "billing_timezone": "Mars/Base",
                      "anchor_day": 32, "tax_percent": 19.0}}

    with pytest.raises(ConfigError) as raised:
        subscriptions_from_records(records, catalog, source="tenants.yaml")

    problems = "\n".join(raised.value.problems)
    assert "plan must be one of" in problems
    assert "expected a date" in problems
    assert "IANA time zone" in problems
    assert "anchor_day must be an integer from 1 to 31" in problems
    assert "found float 19.0" in problems


FOCUS_BOOK = PROJECT_ROOT / "conf" / "price-books" / "focus-list-prices.csv"


@pytest.mark.skipif(not FOCUS_BOOK.exists(), reason="conf/price-books/focus-list-prices.csv is written by the FOCUS replay")
def test_project_plans_load(settings):
    catalog = load_plans(Path(settings.plans_path), settings.meters)

    assert {"saas-standard", "cluster-compute", "focus-list-price", "saas-eu", "saas-jp"} <= set(catalog.plans)
    assert catalog["saas-jp"].currency == "JPY"
