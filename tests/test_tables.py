"""ensure_table after a creation that a kill interrupted, and on a table that exists."""

from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql.types import DecimalType, StringType, StructField, StructType

from pipelines.tables import ensure_table, read_table, table_path
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
def test_log_without_a_version_is_replaced_by_the_table(spark, tmp_path, leftover, caplog):
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
    assert "holds no table version" in caplog.text


def test_existing_table_keeps_its_rows(spark, tmp_path, caplog):
    settings = make_settings(tmp_path)
    ensure_table(spark, settings, Table.SILVER_QUARANTINE, SCHEMA)
    rows = spark.createDataFrame([("t-001", Decimal("1.500000000000"))], SCHEMA)
    rows.write.format("delta").mode("append").save(table_path(settings, Table.SILVER_QUARANTINE))

    ensure_table(spark, settings, Table.SILVER_QUARANTINE, SCHEMA)

    assert_df_equality(read_table(spark, settings, Table.SILVER_QUARANTINE), rows)
    assert "holds no table version" not in caplog.text
