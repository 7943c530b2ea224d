"""The FOCUS sample, replayed through Kafka and priced per unit with its list prices.

Each AWS usage row of the sample states PricingQuantity, ListUnitPrice and
ListCost, where ListCost is the product rounded half-up to 10 decimals per row.
meterhouse aggregates per tenant and SKU price id, then prices each line once, so
the check is exact on the unrounded products and on the rounding of each line.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest

from pipelines.load.commands import run_replay
from pipelines.load.datasets import DATA_ROOT, default_target_month
from pipelines.load.tenant_ids import focus_account_to_tenant_id
from pipelines.streams.runner import run_layers_once

pytestmark = [pytest.mark.slow, pytest.mark.kafka]

SAMPLE = DATA_ROOT / "focus-1.0-sample" / "focus_sample.csv"


def sample_aws_usage():
    """Per tenant and SKU price id: quantity, unit price, sum of ListCost, row count."""
    totals = defaultdict(lambda: {"quantity": Decimal(0), "list_cost": Decimal(0), "price": None, "rows": 0})
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["ProviderName"] != "AWS" or row["ChargeCategory"] != "Usage":
                continue
            entry = totals[(focus_account_to_tenant_id(row["SubAccountId"]), row["SkuPriceId"])]
            entry["quantity"] += Decimal(row["PricingQuantity"])
            entry["list_cost"] += Decimal(row["ListCost"])
            entry["price"] = Decimal(row["ListUnitPrice"])
            entry["rows"] += 1
    return totals


def test_focus_usage_charges_equal_sample_list_cost(spark, kafka_settings):
    from pipelines.billing.invoices import compute_invoices

    month = default_target_month(datetime.now(timezone.utc).date())
    run_replay(kafka_settings, argparse.Namespace(data_set="focus", month=month.strftime("%Y-%m"), limit=None,
                                                  data_dir=DATA_ROOT))
    run_layers_once(spark, kafka_settings)

    run = compute_invoices(spark, kafka_settings, month.strftime("%Y-%m"), None)

    expected = sample_aws_usage()
    aws_tenants = {tenant for tenant, _ in expected}
    lines = {}
    for document in run.documents:
        for line in document.lines:
            if line.get("meter") == "focus_pricing_quantity" and line["tenant_id"] in aws_tenants:
                sku = line["dimensions"].split('"sku_price_id":"')[1].rstrip('"}')
                lines[(line["tenant_id"], sku)] = line
    assert set(lines) == set(expected)
    for key, entry in expected.items():
        line = lines[key]
        unrounded = line["quantity"] * line["unit_price"]
        assert (key, line["quantity"]) == (key, entry["quantity"])
        assert (key, line["unit_price"]) == (key, entry["price"])
        # The sample rounds every row to 10 decimals; one line sums its rows first.
        assert abs(unrounded - entry["list_cost"]) <= Decimal("0.5E-10") * entry["rows"]
        assert line["amount"] == unrounded.quantize(Decimal("0.01"), ROUND_HALF_UP)
