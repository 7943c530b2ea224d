"""The invoice ledger: an intact chain verifies; each kind of tampering is named."""

from __future__ import annotations

from pyspark.sql import functions as F

from pipelines.audit.ledger import LEDGER, FindingKind, append_documents, read_ledger, verify_ledger
from pipelines.audit.retention import AuditTable
from pipelines.billing.documents import read_headers
from pipelines.tables import read_table, table_path
from pipelines.vocabulary import Table


def ledger_sql(settings) -> str:
    return f"delta.`{table_path(settings, AuditTable.INVOICE_LEDGER)}`"


def allow_changes(spark, settings) -> None:
    spark.sql(f"ALTER TABLE {ledger_sql(settings)} SET TBLPROPERTIES ('delta.appendOnly' = 'false')")


def test_intact_ledger_verifies(spark, issued_lake):
    settings = issued_lake.settings

    report = verify_ledger(spark, settings)
    records = read_ledger(spark, settings)

    assert report.findings == ()
    assert report.record_count == 3
    assert [(record["sequence"], record["invoice_id"], record["record_type"]) for record in records] == [
        (1, issued_lake.t1_invoice_id, "invoice_finalized"),
        (2, issued_lake.t2_invoice_id, "invoice_finalized"),
        (3, issued_lake.credit_note_id, "credit_note_issued"),
    ]
    assert report.heads["test-issuer"] == (3, records[2]["record_sha256"])


def test_second_append_adds_nothing(spark, issued_lake):
    settings = issued_lake.settings

    appended = append_documents(spark, settings, read_headers(spark, settings))

    assert appended == []
    assert read_table(spark, settings, AuditTable.INVOICE_LEDGER).count() == 3


def test_updated_record_is_named(spark, issued_lake):
    settings = issued_lake.settings
    allow_changes(spark, settings)
    spark.sql(f"UPDATE {ledger_sql(settings)} SET content = replace(content, '30.000000', '1.000000') "
              "WHERE sequence = 2")

    report = verify_ledger(spark, settings)

    first = report.findings[0]
    assert (first.kind, first.sequence, first.invoice_id) == (FindingKind.MODIFIED, 2, issued_lake.t2_invoice_id)
    assert "content does not match its content_sha256" in first.message
    history = [finding.message for finding in report.findings[1:]]
    assert len(history) == 2
    assert "delta.appendOnly was turned off" in history[0]
    assert "is a UPDATE: records were changed or removed" in history[1]


def test_deleted_record_is_named(spark, issued_lake):
    settings = issued_lake.settings
    allow_changes(spark, settings)
    spark.sql(f"DELETE FROM {ledger_sql(settings)} WHERE sequence = 2")

    report = verify_ledger(spark, settings)

    first = report.findings[0]
    assert (first.kind, first.sequence) == (FindingKind.REMOVED, 2)
    assert first.message.startswith("ledger records test-issuer #2 to #2 were removed")
    not_recorded = [finding.invoice_id for finding in report.findings if finding.kind == FindingKind.NOT_IN_LEDGER]
    assert not_recorded == [issued_lake.t2_invoice_id]


def test_reordered_records_are_named(spark, issued_lake):
    settings = issued_lake.settings
    allow_changes(spark, settings)
    ledger = read_table(spark, settings, AuditTable.INVOICE_LEDGER)
    swapped = ledger.withColumn("sequence", F.when(F.col("sequence") == 2, F.lit(3))
                                .when(F.col("sequence") == 3, F.lit(2)).otherwise(F.col("sequence")))
    rewritten = spark.createDataFrame(swapped.collect(), LEDGER)
    rewritten.write.format("delta").mode("overwrite").save(table_path(settings, AuditTable.INVOICE_LEDGER))

    report = verify_ledger(spark, settings)

    first = report.findings[0]
    assert (first.kind, first.sequence, first.invoice_id) == (FindingKind.REORDERED, 2, issued_lake.credit_note_id)
    assert "the chain puts it after #3" in first.message
    assert any(finding.kind == FindingKind.HISTORY and "rewritten" in finding.message for finding in report.findings)


def test_changed_gold_invoice_is_detected(spark, issued_lake):
    settings = issued_lake.settings
    spark.sql(f"UPDATE delta.`{table_path(settings, Table.GOLD_INVOICES)}` SET total = 0 "
              f"WHERE invoice_id = '{issued_lake.t2_invoice_id}'")

    report = verify_ledger(spark, settings)

    assert [(finding.kind, finding.sequence, finding.invoice_id) for finding in report.findings] == [
        (FindingKind.GOLD_CHANGED, 2, issued_lake.t2_invoice_id)]
    assert report.findings[0].message.endswith("header.total changed")
