"""ensure_table after an interrupted creation, and checkpoints whose tables are missing."""

from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql.types import DecimalType, StringType, StructField, StructType

from pipelines.errors import SetupError
from pipelines.schemas import BRONZE_EVENTS
from pipelines.silver.stream import QUERY_NAME as SILVER_QUERY
from pipelines.silver.stream import start_silver_stream
from pipelines.tables import (
    STREAM_READERS,
    checkpoint_path,
    ensure_table,
    read_table,
    require_tables_of_checkpoint,
    table_path,
)
from pipelines.vocabulary import Table
from tests.conftest import make_settings

SCHEMA = StructType([
    StructField("tenant_id", StringType(), False),
    StructField("quantity", DecimalType(38, 12), False),
])

# What a kill -9 during CREATE TABLE can leave: the folder alone, or the
# rename source of commit 0 with its Hadoop checksum.
INTERRUPTED_LOGS = {
    "empty": [],
    "temporary commit": [".00000000000000000000.json.5f0c.tmp", "..00000000000000000000.json.5f0c.tmp.crc"],
}


@pytest.mark.parametrize("leftover", INTERRUPTED_LOGS.values(), ids=INTERRUPTED_LOGS.keys())
def test_versionless_log_is_recreated(spark, tmp_path, leftover, caplog):
    settings = make_settings(tmp_path)
    log_folder = Path(table_path(settings, Table.SILVER_QUARANTINE)) / "_delta_log"
    log_folder.mkdir(parents=True)
    for name in leftover:
        (log_folder / name).write_text("{}")

    ensure_table(spark, settings, Table.SILVER_QUARANTINE, SCHEMA)

    table = read_table(spark, settings, Table.SILVER_QUARANTINE)
    assert table.schema == SCHEMA
    assert table.count() == 0
    assert (log_folder / "00000000000000000000.json").exists()
    assert "contains no table version" in caplog.text


def test_existing_table_keeps_its_rows(spark, tmp_path, caplog):
    settings = make_settings(tmp_path)
    ensure_table(spark, settings, Table.SILVER_QUARANTINE, SCHEMA)
    rows = spark.createDataFrame([("t-001", Decimal("1.500000000000"))], SCHEMA)
    rows.write.format("delta").mode("append").save(table_path(settings, Table.SILVER_QUARANTINE))

    ensure_table(spark, settings, Table.SILVER_QUARANTINE, SCHEMA)

    assert_df_equality(read_table(spark, settings, Table.SILVER_QUARANTINE), rows)
    assert "contains no table version" not in caplog.text


def write_commit(settings, query_name: str, name: str) -> None:
    commits = Path(checkpoint_path(settings, query_name)) / "commits"
    commits.mkdir(parents=True, exist_ok=True)
    (commits / name).write_text('v1\n{"nextBatchWatermarkMs":0}')


def test_checkpoint_without_its_table_raises(spark, tmp_path):
    settings = make_settings(tmp_path)
    ensure_table(spark, settings, Table.BRONZE_EVENTS, BRONZE_EVENTS)
    write_commit(settings, SILVER_QUERY, "0")

    with pytest.raises(SetupError) as raised:
        start_silver_stream(spark, settings, run_once=True)

    message = str(raised.value)
    assert f"table silver.usage_events not found at {table_path(settings, Table.SILVER_EVENTS)}" in message
    assert checkpoint_path(settings, SILVER_QUERY) in message
    assert not Path(table_path(settings, Table.SILVER_EVENTS)).exists()


def test_checkpoint_with_its_tables_passes(spark, tmp_path):
    settings = make_settings(tmp_path)
    tables = (Table.GOLD_HOURLY, Table.GOLD_DAILY)
    for table in tables:
        ensure_table(spark, settings, table, SCHEMA)
    write_commit(settings, "gold_usage", "0")

    require_tables_of_checkpoint(spark, settings, "gold_usage", tables)


@pytest.mark.parametrize("commit_names", [[], [".0.crc", ".0.5f0c.tmp"]], ids=["no checkpoint", "no commit yet"])
def test_new_checkpoint_allows_missing_tables(spark, tmp_path, commit_names):
    settings = make_settings(tmp_path)
    for name in commit_names:
        write_commit(settings, "gold_usage", name)

    require_tables_of_checkpoint(spark, settings, "gold_usage", (Table.GOLD_HOURLY,))

    assert not Path(table_path(settings, Table.GOLD_HOURLY)).exists()


def test_stream_readers_match_query_names():
    from pipelines.gold.stream import QUERY_NAME as GOLD_QUERY

    assert STREAM_READERS == {Table.BRONZE_EVENTS: SILVER_QUERY, Table.SILVER_EVENTS: GOLD_QUERY}


def test_missing_bronze_names_silver_checkpoint(spark, tmp_path):
    settings = make_settings(tmp_path)
    write_commit(settings, "bronze_usage_events", "0")

    with pytest.raises(SetupError) as raised:
        require_tables_of_checkpoint(spark, settings, "bronze_usage_events", (Table.BRONZE_EVENTS,))

    assert f"delete its checkpoint at {checkpoint_path(settings, SILVER_QUERY)} too" in str(raised.value)
