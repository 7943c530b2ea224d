"""One lake with issued invoices, built once per module and copied for each test.

The lake holds November 2026 invoices for t1 and t2 (finalized under the
``invoice`` job tag and recorded in the ledger), a credit note of t1's
invoice, also recorded, and usage that arrived after finalization.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.conftest import make_settings
from pipelines.audit.history import tagged_commits
from pipelines.audit.ledger import append_documents
from pipelines.billing.documents import issue_credit_note
from pipelines.billing.invoices import compute_invoices, write_invoices
from pipelines.config import Settings, Tenant
from pipelines.schemas import GOLD_USAGE
from pipelines.tables import ensure_table, table_path
from pipelines.vocabulary import Table

UTC = timezone.utc
AFTER_GRACE = datetime(2026, 12, 10, tzinfo=UTC)
ISSUER = "test-issuer"
PLANS_YAML = """\
plans:
  basic:
    currency: USD
    charges:
      - {id: fee, model: flat_fee, amount: "30.00", timing: arrears}
      - {id: api, meter: api_requests, model: per_unit, unit_price: "0.001", free_units: "100"}
"""


@dataclass(frozen=True)
class IssuedLake:
    settings: Settings
    t1_invoice_id: str
    t2_invoice_id: str
    credit_note_id: str


def hour(day, hour_of_day=0, month=11):
    return datetime(2026, month, day, hour_of_day, tzinfo=UTC)


def append_gold(spark, settings, rows):
    usage = [(tenant, "api_requests", '{"region":"eu"}', start, start + timedelta(hours=1), "COUNT", D(quantity), 1,
              start, start + timedelta(minutes=30), "unit") for tenant, start, quantity in rows]
    ensure_table(spark, settings, Table.GOLD_HOURLY, GOLD_USAGE)
    spark.createDataFrame(usage, GOLD_USAGE).write.format("delta").mode("append").save(
        table_path(settings, Table.GOLD_HOURLY))


def audit_settings(root: Path) -> Settings:
    settings = make_settings(root)
    tenants = {
        "t1": Tenant("t1", "Tenant one", {"plan": "basic", "subscription_start": "2026-01-01", "billing_timezone": "UTC"}),
        "t2": Tenant("t2", "Tenant two", {"plan": "basic", "subscription_start": "2026-01-01", "billing_timezone": "UTC"}),
    }
    root.mkdir(parents=True, exist_ok=True)
    plans_path = root / "plans.yaml"
    plans_path.write_text(PLANS_YAML, encoding="utf-8")
    return replace(settings, plans_path=plans_path, tenants=tenants,
                   billing={"issuer": ISSUER, "rounding": "ROUND_HALF_UP"})


@pytest.fixture(scope="module")
def issued_lake_template(spark, tmp_path_factory) -> tuple[Path, IssuedLake]:
    root = tmp_path_factory.mktemp("issued")
    settings = audit_settings(root)
    append_gold(spark, settings, [("t1", hour(2), "1100"), ("t2", hour(5), "50")])
    with tagged_commits(spark, "invoice", period="2026-11", finalize=True):
        result = write_invoices(spark, settings, compute_invoices(spark, settings, "2026-11"),
                                finalize=True, grace=timedelta(hours=48), now=AFTER_GRACE)
    append_documents(spark, settings, result.finalized, now=AFTER_GRACE)
    by_tenant = {header["tenant_id"]: header["invoice_id"] for header in result.finalized}
    note = issue_credit_note(spark, settings, by_tenant["t1"], AFTER_GRACE, "customer left")
    append_documents(spark, settings, [note], now=AFTER_GRACE + timedelta(minutes=1))
    append_gold(spark, settings, [("t1", hour(3), "500")])
    return root, IssuedLake(settings, by_tenant["t1"], by_tenant["t2"], note["invoice_id"])


@pytest.fixture
def issued_lake(issued_lake_template, tmp_path) -> IssuedLake:
    """A private copy of the template lake; Delta logs hold relative paths, so a copied table works."""
    template_root, template = issued_lake_template
    shutil.copytree(template_root / "lake", tmp_path / "lake")
    settings = replace(template.settings, lake=replace(template.settings.lake, root=str(tmp_path / "lake"),
                                                       checkpoint_root=str(tmp_path / "lake" / "_checkpoints")),
                       exports_root=str(tmp_path / "exports"))
    return replace(template, settings=settings)

