"""Rebuilding issued documents by time travel: identical, changed, after maintenance, outside retention."""

from __future__ import annotations

import pytest

from pipelines.audit.errors import VersionUnavailableError
from pipelines.audit.rebuild import Difference, audit_document, audit_tenant_period
from pipelines.maintenance.maintain import maintain_tables
from pipelines.tables import delta_table, table_path
from pipelines.vocabulary import Table


def test_finalized_invoice_rebuilds_identical(spark, issued_lake):
    settings = issued_lake.settings

    result = audit_document(spark, settings, issued_lake.t1_invoice_id)

    assert result.differences == ()
    assert result.is_identical
    assert result.invoice_number == "test-issuer-00000001"   # t1 and t2 periods end together; t1 sorts first
    assert result.sources.gold_version == 1            # usage that arrived later is gold v2
    assert result.sources.invoices_version == 1         # the draft write; v2 finalized it


def test_changed_stored_line_is_reported(spark, issued_lake):
    settings = issued_lake.settings
    spark.sql(f"UPDATE delta.`{table_path(settings, Table.GOLD_INVOICE_LINES)}` SET amount = 5 "
              f"WHERE invoice_id = '{issued_lake.t1_invoice_id}' AND line_number = 2")

    result = audit_document(spark, settings, issued_lake.t1_invoice_id)

    assert result.differences == (Difference("line 2 amount", "5.000000", "1.00"),)


def test_tenant_audit_includes_credit_note(spark, issued_lake):
    settings = issued_lake.settings

    results = audit_tenant_period(spark, settings, "t1", "2026-11")

    assert [(result.invoice_id, result.document_type, result.is_identical) for result in results] == [
        (issued_lake.t1_invoice_id, "invoice", True),
        (issued_lake.credit_note_id, "credit_note", True),
    ]
    assert results[1].sources.reverses_invoice_id == issued_lake.t1_invoice_id


def test_invoice_rebuilds_after_maintenance(spark, issued_lake):
    settings = issued_lake.settings
    tables = [Table.GOLD_HOURLY.value, Table.GOLD_INVOICES.value, Table.GOLD_INVOICE_LINES.value]

    maintained = maintain_tables(spark, settings, tables)
    result = audit_document(spark, settings, issued_lake.t1_invoice_id)

    assert [(item.table, item.retention_days) for item in maintained] == [(name, 2555) for name in tables]
    assert result.differences == ()


def test_vacuumed_usage_version_points_to_export_manifest(spark, issued_lake):
    settings = issued_lake.settings
    usage = delta_table(spark, settings, Table.GOLD_HOURLY)
    usage.optimize().executeCompaction()
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        usage.vacuum(0)
    finally:
        spark.conf.unset("spark.databricks.delta.retentionDurationCheck.enabled")

    with pytest.raises(VersionUnavailableError) as raised:
        audit_document(spark, settings, issued_lake.t1_invoice_id)

    message = str(raised.value)
    assert "outside its table's retention window" in message
    assert f"{settings.exports_root}/2026-11/manifest.json" in message
