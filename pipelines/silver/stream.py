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
import operator
import time
from functools import reduce

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from pipelines.config import Settings
from pipelines.triggers import with_trigger
from pipelines.schemas import SILVER_DUPLICATES, SILVER_EVENTS, SILVER_QUARANTINE
from pipelines.silver.deduplicate import add_payload_hash, classify_against_silver, first_delivery_per_event
from pipelines.silver.parse import parse_events
from pipelines.silver.validate import add_validation_reasons, is_valid
from pipelines.tables import (
    checkpoint_path,
    delta_table,
    ensure_table,
    read_table,
    require_tables_of_checkpoint,
    require_upstream_table,
    table_path,
)
from pipelines.vocabulary import Column as C
from pipelines.vocabulary import ReasonCode, Table

log = logging.getLogger(__name__)

QUERY_NAME = "silver_usage_events"
SILVER_TABLES = (Table.SILVER_EVENTS, Table.SILVER_QUARANTINE, Table.SILVER_DUPLICATES)


def create_silver_tables(spark: SparkSession, settings: Settings) -> None:
    ensure_table(spark, settings, Table.SILVER_EVENTS, SILVER_EVENTS, partition_by=(C.TENANT_ID,))
    ensure_table(spark, settings, Table.SILVER_QUARANTINE, SILVER_QUARANTINE)
    ensure_table(spark, settings, Table.SILVER_DUPLICATES, SILVER_DUPLICATES, partition_by=(C.TENANT_ID,))


def start_silver_stream(spark: SparkSession, settings: Settings, run_once: bool) -> StreamingQuery:
    """Start the bronze-to-silver query (``availableNow`` when ``run_once``)."""
    require_upstream_table(spark, settings, Table.BRONZE_EVENTS, "silver")
    require_tables_of_checkpoint(spark, settings, QUERY_NAME, SILVER_TABLES)
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

    if is_compaction_due(batch_id, settings.ingest.compact_every_batches):
        compact_silver_tables(spark, settings, batch_id)
    return counts


def is_compaction_due(batch_id: int, every: int) -> bool:
    return every > 0 and batch_id > 0 and batch_id % every == 0


def compact_silver_tables(spark: SparkSession, settings: Settings, batch_id: int) -> int:
    """Bin-pack the small files that micro-batches leave in the three silver tables; return the files removed.

    Each batch adds a file to every tenant partition it touches, and the next
    batches' MERGEs, duplicate checks and the gold stream read all of them, so
    without compaction every batch costs more than the one before. The
    OPTIMIZE commits change no data, and the gold stream skips them. Files of
    at least ``spark.databricks.delta.optimize.minFileSize`` are left as they
    are, so one compaction rewrites at most that much older data per tenant
    partition, however long the history.

    A table whose OPTIMIZE fails (for example one that lost a race with
    ``meterhouse maintain``) is logged and skipped: the batch's rows are
    already written, and compaction only makes later batches cheaper.
    """
    started = time.monotonic()
    removed = added = 0
    for table in (Table.SILVER_EVENTS, Table.SILVER_DUPLICATES, Table.SILVER_QUARANTINE):
        try:
            table_removed, table_added = compact_table(spark, settings, table)
        except Exception as error:  # noqa: BLE001 - any failure only skips this table's compaction
            log.warning("compaction of %s after silver batch %s failed and was skipped: %s. The stream goes on; the "
                        "next attempt is after batch %s. If it keeps failing, run `meterhouse maintain --table %s` "
                        "while no other job writes it", table.value, batch_id, first_line(error),
                        batch_id + settings.ingest.compact_every_batches, table.value)
            continue
        removed += table_removed
        added += table_added
    log.info("silver compaction: %d small files into %d in %.1fs", removed, added, time.monotonic() - started)
    return removed


def compact_table(spark: SparkSession, settings: Settings, table: Table) -> tuple[int, int]:
    """OPTIMIZE ``table``; return the files it removed and added."""
    result = delta_table(spark, settings, table).optimize().executeCompaction().collect()
    if not result:
        return 0, 0
    metrics = result[0]["metrics"]
    return int(metrics["numFilesRemoved"]), int(metrics["numFilesAdded"])


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _write_batch(spark: SparkSession, checked: DataFrame, settings: Settings) -> dict[str, int]:
    valid = checked.filter(is_valid())
    tenants = [row[0] for row in valid.select("subject").distinct().collect()]

    inserted = merge_into_silver(spark, settings, first_delivery_per_event(to_silver_rows(valid)), tenants)

    silver = read_table(spark, settings, Table.SILVER_EVENTS).filter(F.col(C.TENANT_ID).isin(tenants))
    classified = classify_against_silver(to_silver_rows(valid), silver).persist()
    try:
        kinds = count_classifications(classified)
        _fail_on_missing(classified, kinds)
        ranges = offset_ranges(checked)
        duplicates = 0
        if kinds.get("duplicate"):
            duplicates = merge_on_coordinates(spark, settings, Table.SILVER_DUPLICATES, to_duplicate_rows(classified),
                                              ranges, tenants)
        conflicts = to_conflict_quarantine_rows(classified)
        invalid = to_quarantine_rows(checked.filter(~is_valid()))
        quarantined = merge_on_coordinates(spark, settings, Table.SILVER_QUARANTINE, invalid.unionByName(conflicts),
                                           ranges)
    finally:
        classified.unpersist()
    return {"silver": inserted, "duplicates": duplicates, "quarantine": quarantined}


def count_classifications(classified: DataFrame) -> dict[str, int]:
    """Count the batch's valid events per classification (one Spark job, which also fills the cache)."""
    return {row["classification"]: row["count"] for row in classified.groupBy("classification").count().collect()}


def offset_ranges(records: DataFrame) -> list[tuple[str, int, int, int]]:
    """Return (topic, partition, lowest offset, highest offset) for each Kafka partition in ``records``."""
    ranges = records.groupBy(C.TOPIC, C.PARTITION).agg(F.min(C.OFFSET), F.max(C.OFFSET)).collect()
    return sorted((row[0], row[1], row[2], row[3]) for row in ranges)


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
    # The tenant list lets Delta prune target files by partition.
    condition = target_column(C.TENANT_ID).isin(tenants) & same_values(C.TENANT_ID, C.EVENT_ID)
    target = delta_table(spark, settings, Table.SILVER_EVENTS)
    return _insert_counting(target, target.alias("t").merge(events.alias("s"), condition).whenNotMatchedInsertAll())


def merge_on_coordinates(spark: SparkSession, settings: Settings, table: Table, rows: DataFrame,
                         ranges: list[tuple[str, int, int, int]], tenants: list[str] | None = None) -> int:
    """Insert rows whose Kafka coordinates ``table`` does not hold yet.

    ``ranges`` must cover the coordinates of every row (see ``offset_ranges``),
    and ``tenants`` every row's tenant when given. Both only narrow the target
    side of the join: Delta skips the files whose offset statistics, or whose
    tenant partition, lie outside them, so the MERGE reads the recent files
    and not the whole table. Equal coordinates imply both, so the result is
    the same as without them.
    """
    if not ranges:
        return 0
    condition = coordinates_within(ranges) & same_values(C.TOPIC, C.PARTITION, C.OFFSET)
    if tenants is not None:
        condition = target_column(C.TENANT_ID).isin(tenants) & condition
    target = delta_table(spark, settings, table)
    return _insert_counting(target, target.alias("t").merge(rows.alias("s"), condition).whenNotMatchedInsertAll())


def coordinates_within(ranges: list[tuple[str, int, int, int]]) -> SparkColumn:
    """Condition on the MERGE target: its coordinates lie in one of ``ranges``."""
    topic, partition, offset = (target_column(name) for name in (C.TOPIC, C.PARTITION, C.OFFSET))
    return reduce(operator.or_, [
        (topic == F.lit(name)) & (partition == F.lit(number)) & offset.between(F.lit(lowest), F.lit(highest))
        for name, number, lowest, highest in ranges
    ])


def target_column(name: str) -> SparkColumn:
    return F.col(f"t.`{name}`")


def same_values(*names: str) -> SparkColumn:
    """Condition of a MERGE: target ``t`` and source ``s`` agree on every column of ``names``."""
    return reduce(operator.and_, [target_column(name) == F.col(f"s.`{name}`") for name in names])


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


def _fail_on_missing(classified: DataFrame, kinds: dict[str, int]) -> None:
    from pipelines.errors import DataLossError

    if not kinds.get("missing"):
        return
    missing = classified.filter(F.col("classification") == "missing").limit(5).collect()
    keys = ", ".join(f"{row[C.TENANT_ID]}/{row[C.EVENT_ID]}" for row in missing)
    raise DataLossError(f"{kinds['missing']} events not found in silver right after merging them (for example "
                        f"{keys}). The batch will be retried. If this repeats, check that no other job rewrites or "
                        f"restores silver.usage_events while the stream runs")
