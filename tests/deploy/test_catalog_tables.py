"""lake.catalog: tables also named in a catalog, as external tables over the lake's paths.

Runs against Spark's own session catalog (spark_catalog, in memory). Unity
Catalog and a Hive metastore cannot run here; they take the same two
statements (CREATE SCHEMA, CREATE TABLE ... LOCATION), which this test does
not prove for them.
"""

import uuid

from pipelines.schemas import GOLD_USAGE
from pipelines.tables import ensure_table, register_catalog_tables, table_path
from pipelines.vocabulary import Table
from tests.conftest import make_settings


def test_ensure_table_registers_in_catalog(spark, tmp_path):
    schema = f"mh_{uuid.uuid4().hex[:8]}"
    settings = make_settings(tmp_path, **{"lake.catalog": f"spark_catalog.{schema}"})

    ensure_table(spark, settings, Table.GOLD_DAILY, GOLD_USAGE)

    detail = spark.sql(f"DESCRIBE DETAIL spark_catalog.{schema}.gold_usage_daily").collect()[0]
    assert detail["location"].rstrip("/").endswith(table_path(settings, Table.GOLD_DAILY).rstrip("/"))
    assert spark.table(f"spark_catalog.{schema}.gold_usage_daily").schema == GOLD_USAGE
    spark.sql(f"DROP SCHEMA spark_catalog.{schema} CASCADE")


def test_register_skips_missing_tables(spark, tmp_path):
    schema = f"mh_{uuid.uuid4().hex[:8]}"
    plain = make_settings(tmp_path)
    ensure_table(spark, plain, Table.GOLD_HOURLY, GOLD_USAGE)
    settings = make_settings(tmp_path, **{"lake.catalog": f"spark_catalog.{schema}"})

    register_catalog_tables(spark, settings)

    names = sorted(row["tableName"] for row in spark.sql(f"SHOW TABLES IN spark_catalog.{schema}").collect())
    assert names == ["gold_usage_hourly"]
    spark.sql(f"DROP SCHEMA spark_catalog.{schema} CASCADE")
