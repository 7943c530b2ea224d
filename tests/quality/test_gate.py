"""Quality suites, recorded results and the finalize gate."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from pipelines.quality.consistency import gold_silver_differences
from pipelines.quality.frames import invoice_checks
from pipelines.quality.gate import FinalizeBlockedError, assert_can_finalize, find_finalize_blocks
from pipelines.quality.results import R, write_results
from pipelines.quality.run import TARGETS, run_target
from pipelines.quality.suites import load_suite, save_suite, suite_path
from pipelines.schemas import GOLD_USAGE, SILVER_EVENTS
from pipelines.tables import ensure_table, read_table, table_path
from pipelines.vocabulary import Table

T0 = datetime(2026, 11, 3, 10, 0, 0)


def silver_row(tenant, event_id, event_time, kafka_time, offset, data='{"region": "eu"}'):
    return (tenant, event_id, "api.request", "test", event_time, data, "hash", "usage", 0, offset, kafka_time, kafka_time)


def write_silver(spark, settings, rows):
    ensure_table(spark, settings, Table.SILVER_EVENTS, SILVER_EVENTS)
    spark.createDataFrame(rows, SILVER_EVENTS).write.format("delta").mode("append").save(
        table_path(settings, Table.SILVER_EVENTS))


def test_reloaded_suite_blocks_only_critical_failures(spark, settings, tmp_path):
    write_silver(spark, settings, [
        silver_row("t1", "e1", T0, T0, 0),
        silver_row("t1", "e1", T0, T0, 1),
        silver_row("t2", "e9", datetime(2026, 1, 1), T0, 2),
    ])
    saved = tmp_path / "silver_events.json"
    save_suite(load_suite(suite_path("silver_events")), saved)
    reloaded = load_suite(saved)
    target = TARGETS["silver"][0]

    outcome = run_target(spark, settings, target, reloaded)
    write_results(spark, settings, [outcome])

    failed = {failure.expectation: failure for failure in outcome.failures}
    assert set(failed) == {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_between"}
    assert failed["expect_compound_columns_to_be_unique"].severity == "critical"
    assert failed["expect_compound_columns_to_be_unique"].tenant_ids == ("t1",)
    assert failed["expect_column_values_to_be_between"].severity == "warning"
    assert failed["expect_column_values_to_be_between"].tenant_ids == ("t2",)
    stored = read_table(spark, settings, Table.QUALITY_RESULTS).collect()[0]
    assert (stored[R.SUITE], stored[R.TABLE_VERSION], stored[R.FAILED_CRITICAL], stored[R.FAILED_WARNING]) == (
        "silver_events", 1, 1, 1)
    with pytest.raises(FinalizeBlockedError) as raised:
        assert_can_finalize(spark, settings, "2026-11", ["t1", "t2"])
    message = str(raised.value)
    assert "suite silver_events" in message
    assert "expectation expect_compound_columns_to_be_unique" in message
    assert "tenant t1" in message
    assert "silver.usage_events version 1" in message
    assert "tenant t2" not in message
    assert find_finalize_blocks(spark, settings, "2026-11", ["t2"]) == []


def test_gold_differences_name_changed_and_missing_keys(spark, settings):
    meters = tuple(meter for meter in settings.meters if meter.name == "api_requests")
    silver = spark.createDataFrame([
        silver_row("t1", "e1", T0, T0, 0),
        silver_row("t1", "e2", T0, T0, 1),
        silver_row("t2", "e3", T0, T0, 2),
    ], SILVER_EVENTS)
    window_end = datetime(2026, 11, 3, 11, 0, 0)
    gold = spark.createDataFrame([
        ("t1", "api_requests", '{"region":"eu"}', T0, window_end, "COUNT", Decimal("3.000000000000"), 3, T0, T0, "request"),
    ], GOLD_USAGE)

    differences = gold_silver_differences(silver, gold, meters)

    expected = spark.createDataFrame([
        ("t1", "api_requests", '{"region":"eu"}', T0, Decimal("2.000000000000"), Decimal("3.000000000000")),
        ("t2", "api_requests", '{"region":"eu"}', T0, Decimal("1.000000000000"), None),
    ], "tenant_id string, meter string, dimensions string, window_start timestamp, "
       "expected_quantity decimal(38,12), gold_quantity decimal(38,12)")
    assert_df_equality(differences, expected, ignore_row_order=True, ignore_nullable=True)


def test_invoice_checks_flag_negative_total_without_reason(spark):
    invoices = spark.createDataFrame([
        ("t1", "i1", "2026-11", "invoice", "draft", "USD", Decimal("-5.000000"), 1, None),
        ("t2", "i2", "2026-11", "credit_note", "finalized", "USD", Decimal("-7.000000"), 1, "void"),
    ], "tenant_id string, invoice_id string, period string, document_type string, status string, currency string, "
       "total decimal(38,6), line_count int, reason string")
    lines = spark.createDataFrame([("i1", Decimal("-5.000000")), ("i2", Decimal("-6.000000"))],
                                  "invoice_id string, amount decimal(38,6)")

    checks = invoice_checks(invoices, lines).select("invoice_id", "line_amount_sum", "line_rows",
                                                   "has_unexplained_negative_total")

    expected = spark.createDataFrame([("i1", Decimal("-5.000000"), 1, True), ("i2", Decimal("-6.000000"), 1, False)],
                                     "invoice_id string, line_amount_sum decimal(38,6), line_rows int, "
                                     "has_unexplained_negative_total boolean")
    assert_df_equality(checks, expected, ignore_row_order=True, ignore_nullable=True)


def test_gate_without_results_warns(spark, settings, caplog):
    caplog.set_level("WARNING", logger="pipelines.quality.gate")

    blocks = find_finalize_blocks(spark, settings, "2026-11", ["acme"])

    assert blocks == []
    assert "no quality results in quality.validation_results" in caplog.text
    assert "run `meterhouse quality` first" in caplog.text
