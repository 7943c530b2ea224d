"""Kafka to ``bronze.usage_events``: the raw record and its Kafka coordinates.

Bronze is append-only and keeps every record exactly as Kafka delivered it,
valid or not. Delivery guarantee: exactly once. The Delta sink records each
micro-batch id in the table's transaction log, so a batch replayed after a
crash is skipped, and the checkpoint stores the Kafka offsets of each batch.

``failOnDataLoss`` stays on: if Kafka deleted offsets before bronze read them
(retention) the query stops with an error naming the topic, partition and
offsets instead of skipping them.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from pipelines.config import Settings
from pipelines.triggers import with_trigger
from pipelines.schemas import BRONZE_EVENTS
from pipelines.tables import checkpoint_path, ensure_table, require_tables_of_checkpoint, table_path
from pipelines.vocabulary import Column as C
from pipelines.vocabulary import Table

log = logging.getLogger(__name__)

QUERY_NAME = "bronze_usage_events"


def read_kafka_stream(spark: SparkSession, settings: Settings) -> DataFrame:
    """Open the usage topic as a stream, from the configured starting offsets."""
    return (
        spark.readStream.format("kafka")
        .options(**settings.kafka.spark_options())
        .option("subscribe", settings.kafka.topic)
        .option("startingOffsets", settings.kafka.starting_offsets)
        .option("maxOffsetsPerTrigger", settings.kafka.max_offsets_per_trigger)
        .option("failOnDataLoss", "true")
        .option("includeHeaders", "false")
        .load()
    )


def to_bronze_rows(kafka_records: DataFrame) -> DataFrame:
    """Map Kafka source rows to the bronze schema; the value stays raw bytes."""
    ingested_at = F.current_timestamp()
    return kafka_records.select(
        F.col("topic").alias(C.TOPIC),
        F.col("partition").alias(C.PARTITION),
        F.col("offset").alias(C.OFFSET),
        F.col("key").cast("string").alias(C.KAFKA_KEY),
        F.col("value").alias(C.KAFKA_VALUE),
        F.col("timestamp").alias(C.KAFKA_TIMESTAMP),
        ingested_at.alias(C.INGESTED_AT),
        F.to_date(ingested_at).alias(C.INGEST_DATE),
    )


def create_bronze_table(spark: SparkSession, settings: Settings) -> None:
    ensure_table(spark, settings, Table.BRONZE_EVENTS, BRONZE_EVENTS, partition_by=(C.INGEST_DATE,),
                 properties={"delta.appendOnly": "true"})


def start_bronze_stream(spark: SparkSession, settings: Settings, run_once: bool) -> StreamingQuery:
    """Start the Kafka-to-bronze query.

    ``run_once`` reads what Kafka contains now and stops (``availableNow``), for
    scheduled incremental runs; otherwise it runs until stopped, one batch per
    ``ingest.trigger_interval_seconds``.
    """
    require_tables_of_checkpoint(spark, settings, QUERY_NAME, (Table.BRONZE_EVENTS,))
    create_bronze_table(spark, settings)

    writer = (
        to_bronze_rows(read_kafka_stream(spark, settings))
        .writeStream.format("delta")
        .queryName(QUERY_NAME)
        .outputMode("append")
        .option("checkpointLocation", checkpoint_path(settings, QUERY_NAME))
    )
    writer = with_trigger(writer, settings, run_once)
    query = writer.start(table_path(settings, Table.BRONZE_EVENTS))
    log.info("started %s from topic %s (run_once=%s)", QUERY_NAME, settings.kafka.topic, run_once)
    return query
