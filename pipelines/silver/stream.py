"""Bronze to ``silver.usage_events``, ``silver.usage_quarantine`` and
``silver.usage_duplicates``.

Every bronze record ends in exactly one of the three tables, identified by its
Kafka coordinates (topic, partition, offset). Delivery guarantee: each write is
an insert-only MERGE, keyed on (tenant_id, event_id) for silver and on the Kafka
coordinates for quarantine and duplicates, so a micro-batch replayed after a
crash at any point (between two of the writes, or after all of them but before
the checkpoint commit) inserts nothing twice. Silver is written first: the
classification of the other records needs the silver rows.

Silver and duplicates are partitioned by tenant_id. Quarantine is not, since a
quarantined record may have no valid tenant id.
"""

from __future__ import annotations

import logging
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from pipelines.config import Settings
from pipelines.triggers import with_trigger
from pipelines.schemas import SILVER_DUPLICATES, SILVER_EVENTS, SILVER_QUARANTINE
from pipelines.silver.deduplicate import add_payload_hash, classify_against_silver, first_delivery_per_event
from pipelines.silver.parse import parse_events
from pipelines.silver.validate import add_validation_reasons, is_valid
from pipelines.tables import checkpoint_path, delta_table, ensure_table, read_table, table_path
from pipelines.vocabulary import Column as C
from pipelines.vocabulary import ReasonCode, Table

log = logging.getLogger(__name__)

QUERY_NAME = "silver_usage_events"


def create_silver_tables(spark: SparkSession, settings: Settings) -> None:
    ensure_table(spark, settings, Table.SILVER_EVENTS, SILVER_EVENTS, partition_by=(C.TENANT_ID,))
    ensure_table(spark, settings, Table.SILVER_QUARANTINE, SILVER_QUARANTINE)
    ensure_table(spark, settings, Table.SILVER_DUPLICATES, SILVER_DUPLICATES, partition_by=(C.TENANT_ID,))


def start_silver_stream(spark: SparkSession, settings: Settings, run_once: bool) -> StreamingQuery:
    """Start the bronze-to-silver query (``availableNow`` when ``run_once``)."""
    create_silver_tables(spark, settings)
    bronze = spark.readStream.format("delta").load(table_path(settings, Table.BRONZE_EVENTS))
    writer = (
        bronze.writeStream.queryName(QUERY_NAME)
        .foreachBatch(lambda batch, batch_id: process_bronze_batch(batch, batch_id, settings))
        .option("checkpointLocation", checkpoint_path(settings, QUERY_NAME))
    )
    writer = with_trigger(writer, settings, run_once)
    return writer.start()


def process_bronze_batch(bronze_batch: DataFrame, batch_id: int, settings: Settings) -> dict[str, int]:
    """Parse, validate, deduplicate and write one batch of bronze records.

    Returns the counts written by this call (zero for records that an earlier
    attempt of the same batch already wrote).
    """
    started = time.monotonic()
    spark = bronze_batch.sparkSession
    checked = add_validation_reasons(add_payload_hash(parse_events(bronze_batch)), settings).persist()
    try:
        counts = _write_batch(spark, checked, settings)
    finally:
        checked.unpersist()
    log.info("silver batch %s: %s in %.1fs", batch_id, counts, time.monotonic() - started)
    return counts


def _write_batch(spark: SparkSession, checked: DataFrame, settings: Settings) -> dict[str, int]:
    valid = checked.filter(is_valid())
    tenants = [row[0] for row in valid.select("subject").distinct().collect()]

    inserted = merge_into_silver(spark, settings, first_delivery_per_event(to_silver_rows(valid)), tenants)

    silver = read_table(spark, settings, Table.SILVER_EVENTS).filter(F.col(C.TENANT_ID).isin(tenants))
    classified = classify_against_silver(to_silver_rows(valid), silver).persist()
    try:
        duplicates = merge_on_coordinates(spark, settings, Table.SILVER_DUPLICATES, to_duplicate_rows(classified))
        conflicts = to_conflict_quarantine_rows(classified)
        invalid = to_quarantine_rows(checked.filter(~is_valid()))
        quarantined = merge_on_coordinates(spark, settings, Table.SILVER_QUARANTINE, invalid.unionByName(conflicts))
        _fail_on_missing(classified)
    finally:
        classified.unpersist()
    return {"silver": inserted, "duplicates": duplicates, "quarantine": quarantined}


def to_silver_rows(valid: DataFrame) -> DataFrame:
    return valid.select(
        F.col("subject").alias(C.TENANT_ID),
        F.col("id").alias(C.EVENT_ID),
        F.col("type").alias(C.EVENT_TYPE),
        F.col("source").alias(C.SOURCE),
        F.col(C.EVENT_TIME),
        F.col("data").alias(C.DATA),
        F.col(C.PAYLOAD_HASH),
        F.col(C.TOPIC),
        F.col(C.PARTITION),
        F.col(C.OFFSET),
        F.col(C.KAFKA_TIMESTAMP),
        F.current_timestamp().alias(C.PROCESSED_AT),
    )


def to_duplicate_rows(classified: DataFrame) -> DataFrame:
    return classified.filter(F.col("classification") == "duplicate").select(
        [F.col(field.name) for field in SILVER_DUPLICATES.fields]
    )


def to_conflict_quarantine_rows(classified: DataFrame) -> DataFrame:
    detail = F.concat(
        F.lit(f"{ReasonCode.DUPLICATE_ID_CONFLICT.value}: event id "), F.col(C.EVENT_ID),
        F.lit(" of this tenant was first accepted at "), F.col(C.ORIGINAL_TOPIC), F.lit("/"),
        F.col(C.ORIGINAL_PARTITION).cast("string"), F.lit("/"), F.col(C.ORIGINAL_OFFSET).cast("string"),
        F.lit(" with another payload"),
    )
    conflicts = classified.filter(F.col("classification") == "conflict")
    return conflicts.select(
        F.col(C.TOPIC), F.col(C.PARTITION), F.col(C.OFFSET),
        F.lit(ReasonCode.DUPLICATE_ID_CONFLICT.value).alias(C.REASON_CODE),
        F.array(detail).alias(C.REASONS),
        F.col(C.TENANT_ID),
        F.col(C.TENANT_ID).alias(C.RAW_SUBJECT),
        F.col(C.EVENT_ID),
        F.col(C.EVENT_TYPE),
        F.col(C.EVENT_TIME),
        F.col(C.TENANT_ID).alias(C.KAFKA_KEY),
        F.lit(None).cast("binary").alias(C.RAW_VALUE),
        F.col(C.KAFKA_TIMESTAMP),
        F.current_timestamp().alias(C.PROCESSED_AT),
    )


def to_quarantine_rows(rejected: DataFrame) -> DataFrame:
    from pipelines.silver.validate import SPARK_TENANT_ID_REGEX

    return rejected.select(
        F.col(C.TOPIC), F.col(C.PARTITION), F.col(C.OFFSET),
        F.col(C.REASON_CODE), F.col(C.REASONS),
        F.when(F.col("subject").rlike(SPARK_TENANT_ID_REGEX), F.col("subject")).alias(C.TENANT_ID),
        F.col("subject").alias(C.RAW_SUBJECT),
        F.col("id").alias(C.EVENT_ID),
        F.col("type").alias(C.EVENT_TYPE),
        F.col(C.EVENT_TIME),
        F.col(C.KAFKA_KEY),
        F.col(C.KAFKA_VALUE).alias(C.RAW_VALUE),
        F.col(C.KAFKA_TIMESTAMP),
        F.current_timestamp().alias(C.PROCESSED_AT),
    )


def merge_into_silver(spark: SparkSession, settings: Settings, events: DataFrame, tenants: list[str]) -> int:
    """Insert events whose (tenant_id, event_id) silver does not hold yet."""
    if not tenants:
        return 0
    # The literal tenant list lets Delta prune target files by partition.
    tenant_list = ", ".join("'" + tenant.replace("'", "''") + "'" for tenant in tenants)
    condition = (f"t.{C.TENANT_ID} IN ({tenant_list}) AND t.{C.TENANT_ID} = s.{C.TENANT_ID} "
                 f"AND t.{C.EVENT_ID} = s.{C.EVENT_ID}")
    target = delta_table(spark, settings, Table.SILVER_EVENTS)
    return _insert_counting(target, target.alias("t").merge(events.alias("s"), condition).whenNotMatchedInsertAll())


def merge_on_coordinates(spark: SparkSession, settings: Settings, table: Table, rows: DataFrame) -> int:
    """Insert rows whose Kafka coordinates ``table`` does not hold yet."""
    target = delta_table(spark, settings, table)
    condition = " AND ".join(f"t.`{name}` = s.`{name}`" for name in (C.TOPIC, C.PARTITION, C.OFFSET))
    return _insert_counting(target, target.alias("t").merge(rows.alias("s"), condition).whenNotMatchedInsertAll())


def _insert_counting(target, merge) -> int:
    """Execute an insert-only MERGE and return the rows it inserted.

    Delta 4.4 writes no commit for a MERGE that inserts nothing, so the
    newest commit is this MERGE's only when the table version moved.
    """
    before = _version(target)
    merge.execute()
    last = target.history(1).select("version", "operation", "operationMetrics").collect()[0]
    if last["version"] == before or last["operation"] != "MERGE":
        return 0
    return int((last["operationMetrics"] or {}).get("numTargetRowsInserted", 0))


def _version(target) -> int:
    return target.history(1).select("version").collect()[0]["version"]


def _fail_on_missing(classified: DataFrame) -> None:
    from pipelines.errors import DataLossError

    missing = classified.filter(F.col("classification") == "missing").limit(5).collect()
    if missing:
        keys = ", ".join(f"{row[C.TENANT_ID]}/{row[C.EVENT_ID]}" for row in missing)
        raise DataLossError(f"events not found in silver right after merging them: {keys}; the batch will be retried")
