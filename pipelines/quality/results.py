"""quality.validation_results: one row per suite run on a table version.

Append-only. Each row names the suite, the table and its Delta version, and
the versions of other tables the validated DataFrame joined
(``related_versions``, a JSON object). It also records when the suite ran
(UTC), whether every expectation passed, and each failed expectation with its
severity, counts, affected tenants and example keys.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)
from pyspark.sql.window import Window

from pipelines.config import Settings
from pipelines.quality.validate import ValidationOutcome
from pipelines.tables import ensure_table, read_table, table_exists, table_path
from pipelines.vocabulary import Table


class ResultColumn:
    RUN_ID = "run_id"
    SUITE = "suite"
    TABLE = "table_name"
    TABLE_VERSION = "table_version"
    RELATED_VERSIONS = "related_versions"
    VALIDATED_AT = "validated_at"
    SUCCESS = "success"
    EVALUATED = "evaluated_expectations"
    FAILED_CRITICAL = "failed_critical"
    FAILED_WARNING = "failed_warning"
    FAILURES = "failures"


R = ResultColumn

FAILURE = StructType([
    # Nested fields are nullable because Delta stores nested fields of a
    # table created with DeltaTable.createIfNotExists as nullable.
    StructField("expectation", StringType(), True),
    StructField("column", StringType(), True),
    StructField("severity", StringType(), True),
    StructField("unexpected_count", LongType(), True),
    StructField("element_count", LongType(), True),
    # NULL when the expectation cannot name tenants: it then affects all of them.
    StructField("tenant_ids", ArrayType(StringType(), True), True),
    StructField("sample_keys", ArrayType(StringType(), True), True),
    StructField("detail", StringType(), True),
])

VALIDATION_RESULTS = StructType([
    StructField(R.RUN_ID, StringType(), False),
    StructField(R.SUITE, StringType(), False),
    StructField(R.TABLE, StringType(), False),
    StructField(R.TABLE_VERSION, LongType(), True),
    StructField(R.RELATED_VERSIONS, StringType(), False),
    StructField(R.VALIDATED_AT, TimestampType(), False),
    StructField(R.SUCCESS, BooleanType(), False),
    StructField(R.EVALUATED, IntegerType(), False),
    StructField(R.FAILED_CRITICAL, IntegerType(), False),
    StructField(R.FAILED_WARNING, IntegerType(), False),
    StructField(R.FAILURES, ArrayType(FAILURE, True), False),
])


def write_results(spark: SparkSession, settings: Settings, outcomes: list[ValidationOutcome],
                  validated_at: datetime | None = None) -> str:
    """Append one row per outcome under a new run id; return the run id."""
    ensure_table(spark, settings, Table.QUALITY_RESULTS, VALIDATION_RESULTS)
    run_id = str(uuid.uuid4())
    validated_at = validated_at or datetime.now(timezone.utc)
    rows = [_row(run_id, validated_at, outcome) for outcome in outcomes]
    frame = spark.createDataFrame(rows, VALIDATION_RESULTS)
    frame.write.format("delta").mode("append").save(table_path(settings, Table.QUALITY_RESULTS))
    return run_id


def _row(run_id: str, validated_at: datetime, outcome: ValidationOutcome) -> tuple:
    failures = [(item.expectation, item.column, item.severity, item.unexpected_count, item.element_count,
                 list(item.tenant_ids) if item.tenant_ids is not None else None, list(item.sample_keys), item.detail)
                for item in outcome.failures]
    critical = sum(1 for item in outcome.failures if item.is_blocking)
    return (run_id, outcome.suite, outcome.table, outcome.table_version,
            json.dumps(outcome.related_versions, sort_keys=True), validated_at, outcome.success, outcome.evaluated,
            critical, len(outcome.failures) - critical, failures)


def latest_results(spark: SparkSession, settings: Settings) -> DataFrame | None:
    """Select the most recent row per (suite, table); return None when nothing was validated yet."""
    if not table_exists(spark, settings, Table.QUALITY_RESULTS):
        return None
    results = read_table(spark, settings, Table.QUALITY_RESULTS)
    newest_first = Window.partitionBy(R.SUITE, R.TABLE).orderBy(F.col(R.VALIDATED_AT).desc(), F.col(R.RUN_ID).desc())
    return results.withColumn("_rank", F.row_number().over(newest_first)).where(F.col("_rank") == 1).drop("_rank")
