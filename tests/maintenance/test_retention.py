"""Retention windows from configuration, and maintenance that keeps them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipelines.audit.errors import RetentionError
from pipelines.audit.retention import retention_properties, retention_settings
from pipelines.errors import ConfigError
from pipelines.maintenance.maintain import maintain_tables
from pipelines.schemas import GOLD_USAGE
from pipelines.tables import ensure_table, table_path
from pipelines.vocabulary import Table


def with_audit(settings, audit: dict):
    return replace(settings, raw=dict(settings.raw, audit=audit))


def test_layers_may_keep_shorter_windows(settings):
    windows = retention_settings(with_audit(settings, {"window_days": 3000, "layer_window_days": {"bronze": 30}}))

    assert windows.days_for("bronze.usage_events") == 30
    assert windows.days_for("silver.usage_events") == 3000
    assert windows.days_for("gold.invoices") == 3000
    assert windows.days_for("audit.invoice_ledger") == 3000


def test_document_window_below_audit_window_is_rejected(settings):
    configured = with_audit(settings, {"window_days": 2555, "layer_window_days": {"gold.invoices": 90, "nowhere": 5}})

    with pytest.raises(ConfigError) as raised:
        retention_settings(configured)

    problems = raised.value.problems
    assert len(problems) == 2
    assert problems[0] == ("audit.layer_window_days.gold.invoices: 90 days is shorter than audit.window_days (2555); "
                           "issued documents must stay provable for the whole audit window")
    assert problems[1].startswith("audit.layer_window_days.nowhere: unknown layer or table; expected one of [")


def test_short_retention_is_rejected_before_vacuum(spark, settings):
    with pytest.raises(RetentionError, match=r"retention of 30 days is shorter than the window of gold.invoices "
                                             r"\(window 2555 days\)"):
        maintain_tables(spark, settings, ["gold.invoices"], retention_days=30)


def test_maintenance_sets_retention_properties(spark, settings):
    configured = with_audit(settings, {"window_days": 2555, "layer_window_days": {"gold": 400}})
    ensure_table(spark, configured, Table.GOLD_DAILY, GOLD_USAGE)

    maintain_tables(spark, configured, [Table.GOLD_DAILY.value])

    properties = {row["key"]: row["value"] for row in
                  spark.sql(f"SHOW TBLPROPERTIES delta.`{table_path(configured, Table.GOLD_DAILY)}`").collect()}
    for key, value in retention_properties(400).items():
        assert properties[key] == value
