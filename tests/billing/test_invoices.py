"""Invoices in Delta: usage reads, idempotent drafts, finalization, late usage, credit notes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from tests.billing.helpers import write_plans
from pipelines.billing.documents import issue_credit_note, void_invoice
from pipelines.billing.invoices import compute_invoices, rerate_invoices, write_invoices
from pipelines.billing.usage import UsageRequest, pin_versions, read_usage
from pipelines.config import Tenant
from pipelines.schemas import GOLD_USAGE, SILVER_EVENTS
from pipelines.tables import current_version, delta_table, ensure_table, read_table
from pipelines.vocabulary import Table

UTC = timezone.utc
AFTER_GRACE = datetime(2026, 12, 10, tzinfo=UTC)


def hour(day, hour_of_day=0, month=11):
    return datetime(2026, month, day, hour_of_day, tzinfo=UTC)


def gold_row(tenant, meter, start, quantity, dimensions='{"region":"eu"}', aggregation="COUNT", last=None):
    return (tenant, meter, dimensions, start, start + timedelta(hours=1), aggregation, D(quantity), 1,
            start, last or start + timedelta(minutes=30), "unit")


def append_gold(spark, settings, rows):
    ensure_table(spark, settings, Table.GOLD_HOURLY, GOLD_USAGE)
    spark.createDataFrame(rows, GOLD_USAGE).write.format("delta").mode("append").save(
        f"{settings.lake.root}/gold/usage_hourly")


@pytest.fixture
def billing_settings(settings, tmp_path):
    tenants = {
        "t1": Tenant("t1", "Tenant one", {"plan": "basic", "subscription_start": "2026-01-01", "billing_timezone": "UTC"}),
        "t2": Tenant("t2", "Tenant two", {"plan": "basic", "subscription_start": "2026-01-01",
                                          "billing_timezone": "Asia/Tokyo"}),
    }
    return replace(settings, plans_path=write_plans(tmp_path), tenants=tenants,
                   billing={"issuer": "test-issuer", "rounding": "ROUND_HALF_UP"})


def test_usage_reads_each_aggregation(spark, billing_settings):
    settings = billing_settings
    append_gold(spark, settings, [
        gold_row("t1", "api_requests", hour(1), "5"),
        gold_row("t1", "api_requests", hour(30, 23), "7"),
        gold_row("t1", "api_requests", hour(1, month=12), "100"),       # next period: left out
        gold_row("t2", "api_requests", hour(1), "1000"),                # other tenant: left out
        gold_row("t1", "peak_concurrency", hour(2), "9", "{}", "MAX"),
        gold_row("t1", "peak_concurrency", hour(3), "4", "{}", "MAX"),
        gold_row("t1", "storage_gb", hour(4), "12.5", "{}", "LATEST", last=hour(4, 0) + timedelta(minutes=59)),
        gold_row("t1", "storage_gb", hour(5), "10", "{}", "LATEST", last=hour(5, 0) + timedelta(minutes=10)),
    ])
    silver = [
        ("t1", f"e{index}", "compute.usage", "test", hour(2), f'{{"user_id":"{user}"}}', "h", "topic", 0, index,
         hour(2), hour(2)) for index, user in enumerate(["ann", "bob", "ann"])
    ]
    ensure_table(spark, settings, Table.SILVER_EVENTS, SILVER_EVENTS)
    spark.createDataFrame(silver, SILVER_EVENTS).write.format("delta").mode("append").save(
        f"{settings.lake.root}/silver/usage_events")
    meters = [meter for meter in settings.meters
              if meter.name in ("api_requests", "peak_concurrency", "storage_gb", "active_users")]

    usage = read_usage(spark, settings, [UsageRequest("w", "t1", hour(1), hour(1, month=12))],
                       pin_versions(spark, settings), meters)

    assert usage["w"]["api_requests"].total == D("12")
    assert usage["w"]["peak_concurrency"].total == D("9")
    assert usage["w"]["storage_gb"].total == D("10")
    assert usage["w"]["active_users"].total == D("2")


def test_rerun_keeps_one_invoice(spark, billing_settings):
    settings = billing_settings
    append_gold(spark, settings, [gold_row("t1", "api_requests", hour(2), "1100")])

    for _ in range(2):
        write_invoices(spark, settings, compute_invoices(spark, settings, "2026-11", ["t1"]))

    invoices = read_table(spark, settings, Table.GOLD_INVOICES)
    lines = read_table(spark, settings, Table.GOLD_INVOICE_LINES).select("line_number", "line_type", "amount")
    expected = spark.createDataFrame([(1, "charge", D("30.00")), (2, "charge", D("1.00"))], lines.schema)
    assert invoices.count() == 1
    assert invoices.first()["total"] == D("31.00")
    assert_df_equality(lines, expected, ignore_row_order=True)


def test_finalized_invoice_never_changes(spark, billing_settings):
    settings = billing_settings
    append_gold(spark, settings, [gold_row("t1", "api_requests", hour(2), "1100")])
    write_invoices(spark, settings, compute_invoices(spark, settings, "2026-11", ["t1"]),
                   finalize=True, grace=timedelta(hours=48), now=AFTER_GRACE)
    finalized_version = current_version(spark, settings, Table.GOLD_INVOICES)
    append_gold(spark, settings, [gold_row("t1", "api_requests", hour(3), "500")])

    run = compute_invoices(spark, settings, "2026-11", ["t1"])
    write_invoices(spark, settings, run)

    invoice_at_finalize = read_table(spark, settings, Table.GOLD_INVOICES, finalized_version)
    assert_df_equality(read_table(spark, settings, Table.GOLD_INVOICES), invoice_at_finalize)
    assert invoice_at_finalize.first()["invoice_number"] == "test-issuer-00000001"
    assert [tenant for tenant, _, _ in run.closed] == ["t1"]
    later = delta_table(spark, settings, Table.GOLD_INVOICES).history().where(F.col("version") > finalized_version)
    assert later.count() == 0


def test_late_usage_becomes_adjustment(spark, billing_settings):
    settings = billing_settings
    append_gold(spark, settings, [gold_row("t1", "api_requests", hour(2), "1100")])
    write_invoices(spark, settings, compute_invoices(spark, settings, "2026-11", ["t1"]),
                   finalize=True, grace=timedelta(hours=48), now=AFTER_GRACE)
    november_id = read_table(spark, settings, Table.GOLD_INVOICES).first()["invoice_id"]
    append_gold(spark, settings, [gold_row("t1", "api_requests", hour(30, 22), "500"),
                                  gold_row("t1", "api_requests", hour(3, month=12), "200")])

    december = compute_invoices(spark, settings, "2026-12", ["t1"])
    write_invoices(spark, settings, december)
    rerun = compute_invoices(spark, settings, "2026-12", ["t1"])

    lines = december.documents[0].lines
    adjustment = [line for line in lines if line["line_type"] == "adjustment"]
    assert len(adjustment) == 1
    assert adjustment[0]["amount"] == D("0.50")       # 500 late requests at 0.001
    assert adjustment[0]["references_invoice_id"] == november_id
    assert adjustment[0]["references_period"] == "2026-11"
    assert december.documents[0].header["total"] == D("30.60")   # 30.00 fee, 0.10 for December, 0.50 late
    assert rerun.documents[0].header["total"] == D("30.60")      # a rerun of the draft bills it once


def test_finalize_grace_and_gapless_numbers(spark, billing_settings):
    settings = billing_settings
    append_gold(spark, settings, [gold_row("t1", "api_requests", hour(2), "1")])
    run = compute_invoices(spark, settings, "2026-11")

    early = write_invoices(spark, settings, run, finalize=True, grace=timedelta(hours=48),
                           now=datetime(2026, 12, 1, 12, tzinfo=UTC))
    late = write_invoices(spark, settings, run, finalize=True, grace=timedelta(hours=48), now=AFTER_GRACE)

    assert early.finalized == ()
    assert [(header["tenant_id"], header["invoice_number"]) for header in late.finalized] == [
        ("t2", "test-issuer-00000001"), ("t1", "test-issuer-00000002")]  # Tokyo's period ends first


def test_credit_note_leaves_original_intact(spark, billing_settings):
    settings = billing_settings
    append_gold(spark, settings, [gold_row("t1", "api_requests", hour(2), "1100")])
    write_invoices(spark, settings, compute_invoices(spark, settings, "2026-11", ["t1"]),
                   finalize=True, grace=timedelta(hours=48), now=AFTER_GRACE)
    original = read_table(spark, settings, Table.GOLD_INVOICES)
    original_rows = original.collect()
    invoice_id = original_rows[0]["invoice_id"]

    note = void_invoice(spark, settings, invoice_id, AFTER_GRACE, "customer left")

    headers = read_table(spark, settings, Table.GOLD_INVOICES)
    assert headers.where(F.col("invoice_id") == invoice_id).collect() == original_rows
    assert note["document_type"] == "credit_note"
    assert note["invoice_number"] == "test-issuer-CN-00000001"
    assert note["total"] == D("-31.00")
    note_lines = read_table(spark, settings, Table.GOLD_INVOICE_LINES).where(F.col("invoice_id") == note["invoice_id"])
    assert note_lines.agg(F.sum("amount")).first()[0] == D("-31.00")
    with pytest.raises(Exception, match="already has credit note"):
        issue_credit_note(spark, settings, invoice_id, AFTER_GRACE, "")


def test_rerating_writes_nothing(spark, billing_settings, tmp_path):
    settings = billing_settings
    append_gold(spark, settings, [gold_row("t1", "focus_pricing_quantity", hour(2), "10", '{"sku_price_id":"sku-a"}', "SUM")])
    settings = replace(settings, tenants={"t1": Tenant("t1", "t1", {"plan": "list-price", "subscription_start": "2026-01-01"})})
    new_book = tmp_path / "new-book.csv"
    new_book.write_text("sku_price_id,unit_price,currency\nsku-a,0.30,USD\nsku-b,1.5,USD\n", encoding="utf-8")

    differences = rerate_invoices(spark, settings, "2026-11", new_book)

    assert [(item.tenant_id, item.current_total, item.rerated_total) for item in differences] == [
        ("t1", D("2.50"), D("3.00"))]
    assert current_version(spark, settings, Table.GOLD_INVOICES) is None
