"""Writing silver batches: deduplication against history, quarantine and replays."""

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
