"""gold.reconciliation: counts per layer, Kafka gaps and the finalize block they cause."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from pipelines.quality.gate import FinalizeBlockedError, assert_can_finalize
from pipelines.reconciliation.report import RC, find_kafka_gaps, reconcile_period, write_reconciliation
from pipelines.schemas import BRONZE_EVENTS, SILVER_DUPLICATES, SILVER_EVENTS, SILVER_QUARANTINE
from pipelines.tables import ensure_table, read_table, table_path
from pipelines.vocabulary import Table

T0 = datetime(2026, 11, 3, 10, 0, 0)


def bronze_row(partition, offset, key):
    return ("usage", partition, offset, key, b"{}", T0, T0, date(2026, 11, 3))


def write(spark, settings, table, schema, rows):
    ensure_table(spark, settings, table, schema)
    spark.createDataFrame(rows, schema).write.format("delta").mode("append").save(table_path(settings, table))


def test_find_kafka_gaps_reports_missing_offset_range(spark):
    bronze = spark.createDataFrame([bronze_row(0, 0, "t1"), bronze_row(0, 1, "t1"), bronze_row(0, 4, "t1"),
                                    bronze_row(1, 7, "t2")], BRONZE_EVENTS)

    gaps = find_kafka_gaps(bronze)

    assert [(gap.topic, gap.partition, gap.first_missing_offset, gap.last_missing_offset) for gap in gaps] == [
        ("usage", 0, 2, 3)]
    assert gaps[0].periods == ("2026-11",)


def test_reconcile_blocks_tenant_with_kafka_gap(spark, settings):
    write(spark, settings, Table.BRONZE_EVENTS, BRONZE_EVENTS, [
        bronze_row(0, 0, "t1"), bronze_row(0, 1, "t1"), bronze_row(0, 3, "t1"), bronze_row(1, 0, "t2")])
    write(spark, settings, Table.SILVER_EVENTS, SILVER_EVENTS, [
        ("t1", "e1", "api.request", "test", T0, "{}", "h1", "usage", 0, 0, T0, T0),
        ("t2", "e5", "api.request", "test", T0, "{}", "h5", "usage", 1, 0, T0, T0)])
    write(spark, settings, Table.SILVER_DUPLICATES, SILVER_DUPLICATES, [
        ("usage", 0, 1, "t1", "e1", T0, "h1", "usage", 0, 0, T0, T0)])
    write(spark, settings, Table.SILVER_QUARANTINE, SILVER_QUARANTINE, [
        ("usage", 0, 3, "INVALID_TIME", ["INVALID_TIME: x"], "t1", "t1", "e2", "api.request", None, "t1", b"{}", T0, T0)])

    rows = {row[RC.TENANT_ID]: row for row in reconcile_period(spark, settings, "2026-11")}
    write_reconciliation(spark, settings, "2026-11", list(rows.values()))

    t1 = rows["t1"]
    assert (t1[RC.KAFKA_RECORDS_READ], t1[RC.BRONZE_ROWS], t1[RC.SILVER_ROWS], t1[RC.QUARANTINED_ROWS],
            t1[RC.DUPLICATE_ROWS]) == (3, 3, 1, 1, 1)
    assert t1[RC.QUARANTINED_BY_REASON] == {"INVALID_TIME": 1}
    assert t1[RC.KAFKA_GAPS] == [("usage", 0, 2, 2, 1)]
    assert t1[RC.STATUS] == "KAFKA_GAP"
    assert rows["t2"][RC.STATUS] == "BALANCED"
    assert read_table(spark, settings, Table.GOLD_RECONCILIATION).count() == 2
    with pytest.raises(FinalizeBlockedError) as raised:
        assert_can_finalize(spark, settings, "2026-11", ["t1", "t2"])
    assert "topic usage partition 0 offsets 2-2 (1 records) are missing in bronze" in str(raised.value)
    assert "tenant t2" not in str(raised.value)
