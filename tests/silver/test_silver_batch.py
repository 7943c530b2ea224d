"""Writing silver batches: deduplication against history, quarantine and replays."""

import pytest
from pyspark.sql import functions as F

from pipelines.reconciliation.conservation import conservation_by_tenant, conservation_totals
from pipelines.silver.stream import create_silver_tables, process_bronze_batch
from pipelines.tables import read_table
from pipelines.vocabulary import Table
from tests.silver.helpers import bronze_rows, cloud_event


def write_bronze(spark, settings, frame):
    from pipelines.bronze.ingest import create_bronze_table
    from pipelines.tables import table_path

    create_bronze_table(spark, settings)
    frame.write.format("delta").mode("append").save(table_path(settings, Table.BRONZE_EVENTS))


def table_rows(spark, settings, table, *columns):
    return sorted(tuple(row) for row in read_table(spark, settings, table).select(*columns).collect())


def test_exact_redelivery_in_a_later_batch_is_a_duplicate(spark, settings):
    create_silver_tables(spark, settings)
    first = bronze_rows(spark, [cloud_event("e-1")], first_offset=0)
    later = bronze_rows(spark, [cloud_event("e-1")], first_offset=1)

    process_bronze_batch(first, 0, settings)
    process_bronze_batch(later, 1, settings)

    assert table_rows(spark, settings, Table.SILVER_EVENTS, "tenant_id", "event_id", "offset") == [("acme", "e-1", 0)]
    assert table_rows(spark, settings, Table.SILVER_DUPLICATES, "tenant_id", "event_id", "offset", "original_offset") == [
        ("acme", "e-1", 1, 0)]
    assert table_rows(spark, settings, Table.SILVER_QUARANTINE, "offset") == []


def test_same_id_with_other_payload_is_a_conflict(spark, settings):
    create_silver_tables(spark, settings)
    batch = bronze_rows(spark, [cloud_event("e-1", data={"region": "eu", "bytes_out": 1}),
                                cloud_event("e-1", data={"region": "eu", "bytes_out": 999})])

    process_bronze_batch(batch, 0, settings)

    assert table_rows(spark, settings, Table.SILVER_EVENTS, "event_id", "offset") == [("e-1", 0)]
    assert table_rows(spark, settings, Table.SILVER_QUARANTINE, "offset", "reason_code") == [(1, "DUPLICATE_ID_CONFLICT")]
    assert table_rows(spark, settings, Table.SILVER_DUPLICATES, "offset") == []


def test_same_id_in_two_tenants_is_two_events(spark, settings):
    create_silver_tables(spark, settings)
    tenants = ["acme", "tenant-0001"]
    batch = bronze_rows(spark, [cloud_event("e-1", tenant=tenant) for tenant in tenants],
                        key=lambda index: tenants[index])

    process_bronze_batch(batch, 0, settings)

    assert table_rows(spark, settings, Table.SILVER_EVENTS, "tenant_id", "event_id") == [
        ("acme", "e-1"), ("tenant-0001", "e-1")]


def test_replayed_batch_writes_nothing_twice(spark, settings):
    create_silver_tables(spark, settings)
    batch = bronze_rows(spark, [cloud_event("e-1"), cloud_event("e-1"), '{"broken', cloud_event("e-2", tenant="../x")])

    first = process_bronze_batch(batch, 0, settings)
    replay = process_bronze_batch(batch, 0, settings)

    assert first == {"silver": 1, "duplicates": 1, "quarantine": 2}
    assert replay == {"silver": 0, "duplicates": 0, "quarantine": 0}
    assert table_rows(spark, settings, Table.SILVER_EVENTS, "event_id", "offset") == [("e-1", 0)]
    assert table_rows(spark, settings, Table.SILVER_DUPLICATES, "offset") == [(1,)]
    assert table_rows(spark, settings, Table.SILVER_QUARANTINE, "offset", "reason_code") == [
        (2, "MALFORMED_JSON"), (3, "INVALID_TENANT_ID")]


def test_conservation_matches_every_bronze_record(spark, settings):
    values = [cloud_event("e-1"), cloud_event("e-1"), '{"broken', cloud_event("e-2", tenant="../x")]
    bronze = bronze_rows(spark, values)
    write_bronze(spark, settings, bronze)
    create_silver_tables(spark, settings)

    process_bronze_batch(bronze, 0, settings)
    by_tenant = conservation_by_tenant(spark, settings)

    rows = {row["tenant_id"]: (row["bronze"], row["silver"], row["quarantine"], row["duplicates"], row["balanced"])
            for row in by_tenant.collect()}
    assert rows == {"acme": (4, 1, 2, 1, True)}
    assert conservation_totals(by_tenant).holds


def test_conservation_names_a_lost_record(spark, settings):
    bronze = bronze_rows(spark, [cloud_event("e-1"), cloud_event("e-2")])
    write_bronze(spark, settings, bronze)
    create_silver_tables(spark, settings)
    process_bronze_batch(bronze.filter(F.col("offset") == 0), 0, settings)

    totals = conservation_totals(conservation_by_tenant(spark, settings))

    assert (totals.bronze, totals.silver, totals.unaccounted, totals.holds) == (2, 1, 1, False)


def test_offset_ranges_are_per_kafka_partition(spark):
    from pipelines.silver.stream import offset_ranges

    records = bronze_rows(spark, ["a", "b"], partition=0, first_offset=5).unionByName(
        bronze_rows(spark, ["c"], partition=1, first_offset=100))

    assert offset_ranges(records) == [("usage", 0, 5, 6), ("usage", 1, 100, 100)]


def test_rebuilt_checkpoint_replay_writes_nothing_twice(spark, settings):
    create_silver_tables(spark, settings)
    first = bronze_rows(spark, [cloud_event("e-1"), cloud_event("e-1"), '{"broken'], partition=0)
    second = bronze_rows(spark, [cloud_event("e-1"), '{"broken', cloud_event("e-2", data={"bytes_out": "x"})],
                         partition=1)
    process_bronze_batch(first, 0, settings)
    process_bronze_batch(second, 1, settings)
    before = {table: table_rows(spark, settings, table, "partition", "offset")
              for table in (Table.SILVER_EVENTS, Table.SILVER_DUPLICATES, Table.SILVER_QUARANTINE)}

    # A checkpoint rebuilt from scratch reads both partitions again in one batch.
    replay = process_bronze_batch(first.unionByName(second), 0, settings)

    assert replay == {"silver": 0, "duplicates": 0, "quarantine": 0}
    assert before == {
        Table.SILVER_EVENTS: [(0, 0)],
        Table.SILVER_DUPLICATES: [(0, 1), (1, 0)],
        Table.SILVER_QUARANTINE: [(0, 2), (1, 1), (1, 2)],
    }
    for table, rows in before.items():
        assert table_rows(spark, settings, table, "partition", "offset") == rows


@pytest.mark.parametrize(("batch_id", "every", "due"), [
    (0, 20, False), (19, 20, False), (20, 20, True), (40, 20, True), (41, 20, False), (5, 0, False), (1, 1, True)])
def test_compaction_is_due_every_nth_batch(batch_id, every, due):
    from pipelines.silver.stream import is_compaction_due

    assert is_compaction_due(batch_id, every) is due


def active_files(spark, settings, table):
    from delta.tables import DeltaTable

    from pipelines.tables import table_path

    return DeltaTable.forPath(spark, table_path(settings, table)).detail().collect()[0]["numFiles"]


def test_compaction_keeps_rows_and_later_counts(spark, settings):
    from chispa import assert_df_equality

    from pipelines.silver.stream import compact_silver_tables

    create_silver_tables(spark, settings)
    for batch_id in range(3):
        process_bronze_batch(bronze_rows(spark, [cloud_event(f"e-{batch_id}"), cloud_event(f"e-{batch_id}")],
                                         first_offset=2 * batch_id), batch_id, settings)
    before = read_table(spark, settings, Table.SILVER_EVENTS).collect()

    removed = compact_silver_tables(spark, settings, 3)
    later = process_bronze_batch(bronze_rows(spark, [cloud_event("e-0"), cloud_event("e-9")], first_offset=6), 3,
                                 settings)

    assert removed == 6
    assert active_files(spark, settings, Table.SILVER_EVENTS) == 2
    assert later == {"silver": 1, "duplicates": 1, "quarantine": 0}
    assert_df_equality(read_table(spark, settings, Table.SILVER_EVENTS).filter(F.col("offset") < 6),
                       spark.createDataFrame(before, read_table(spark, settings, Table.SILVER_EVENTS).schema),
                       ignore_row_order=True)


def test_stream_compacts_on_the_configured_batch(spark, settings):
    from dataclasses import replace

    from pipelines.tables import delta_table

    every_second = replace(settings, ingest=replace(settings.ingest, compact_every_batches=2))
    create_silver_tables(spark, settings)

    for batch_id in (1, 2):
        process_bronze_batch(bronze_rows(spark, [cloud_event(f"e-{batch_id}")], first_offset=batch_id), batch_id,
                             every_second)

    operations = [row["operation"] for row in
                  delta_table(spark, settings, Table.SILVER_EVENTS).history().orderBy("version").collect()]
    assert operations[-3:] == ["MERGE", "MERGE", "OPTIMIZE"]


def test_failed_compaction_leaves_the_batch_written(spark, settings, monkeypatch, caplog):
    from dataclasses import replace

    import pipelines.silver.stream as stream

    def lose_a_race(spark_session, settings_, table):
        if table is Table.SILVER_EVENTS:
            raise RuntimeError("ConcurrentAppendException: files were added by a concurrent update")
        raise RuntimeError()

    monkeypatch.setattr(stream, "compact_table", lose_a_race)
    every_batch = replace(settings, ingest=replace(settings.ingest, compact_every_batches=1))
    create_silver_tables(spark, settings)

    counts = process_bronze_batch(bronze_rows(spark, [cloud_event("e-1")]), 1, every_batch)

    assert counts == {"silver": 1, "duplicates": 0, "quarantine": 0}
    assert ("compaction of silver.usage_events after silver batch 1 failed and was skipped: "
            "ConcurrentAppendException: files were added by a concurrent update. The stream goes on; the next "
            "attempt is after batch 2. If it keeps failing, run `meterhouse maintain --table silver.usage_events`"
            ) in caplog.text
    assert "compaction of silver.usage_quarantine after silver batch 1 failed and was skipped: RuntimeError." in caplog.text
