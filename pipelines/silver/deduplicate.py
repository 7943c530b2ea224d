"""Deduplication on (tenant_id, event_id) against the whole silver history.

The key includes the tenant because event ids are the producer's idempotency
keys and are unique per tenant only: two tenants may both send id "1".

A record whose key is already in silver is classified by comparing Kafka
coordinates and payload hashes with the silver row:

- same coordinates: the record *is* the silver row (a replayed micro-batch);
- same payload hash, other coordinates: an exact re-delivery, counted as a
  duplicate and never billed again, however late it arrives;
- other payload hash: a conflicting reuse of the id, quarantined as
  DUPLICATE_ID_CONFLICT, because billing either payload could be wrong.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from pipelines.vocabulary import Column as C

EVENT_KEY = (C.TENANT_ID, C.EVENT_ID)
COORDINATES = (C.TOPIC, C.PARTITION, C.OFFSET)


def add_payload_hash(events: DataFrame) -> DataFrame:
    """Add ``payload_hash``: SHA-256 over the fields that bill the event.

    The time enters in UTC, so "09:00+09:00" and "00:00Z" hash alike; the data
    enters as the producer wrote it, so reordered keys count as another payload.
    """
    fields = [F.col("type"), F.col("source"), F.col("subject"),
              F.date_format(C.EVENT_TIME, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"), F.col("data")]
    return events.withColumn(C.PAYLOAD_HASH, F.sha2(F.concat_ws("\u0001", *fields), 256))


def first_delivery_per_event(events: DataFrame) -> DataFrame:
    """Keep, for each (tenant_id, event_id) of a batch, its first Kafka record.

    "First" is the lowest (topic, partition, offset), so a replayed batch picks
    the same record again.
    """
    order = Window.partitionBy(*EVENT_KEY).orderBy(*COORDINATES)
    return events.withColumn("_rank", F.row_number().over(order)).filter("_rank = 1").drop("_rank")


def classify_against_silver(events: DataFrame, silver: DataFrame) -> DataFrame:
    """Join a batch's valid events to their silver rows and classify each.

    Adds ``classification`` (``accepted``, ``duplicate`` or ``conflict``) and the
    silver row's coordinates as ``original_topic``, ``original_partition`` and
    ``original_offset``. Every event must have a silver row: the caller merges
    the batch's first deliveries into silver before calling this.
    """
    originals = silver.select(
        *EVENT_KEY,
        F.col(C.TOPIC).alias(C.ORIGINAL_TOPIC),
        F.col(C.PARTITION).alias(C.ORIGINAL_PARTITION),
        F.col(C.OFFSET).alias(C.ORIGINAL_OFFSET),
        F.col(C.PAYLOAD_HASH).alias("original_payload_hash"),
    )
    joined = events.join(originals, list(EVENT_KEY), "left")
    is_same_record = (
        (F.col(C.TOPIC) == F.col(C.ORIGINAL_TOPIC))
        & (F.col(C.PARTITION) == F.col(C.ORIGINAL_PARTITION))
        & (F.col(C.OFFSET) == F.col(C.ORIGINAL_OFFSET))
    )
    classification = (
        F.when(F.col(C.ORIGINAL_OFFSET).isNull(), F.lit("missing"))
        .when(is_same_record, F.lit("accepted"))
        .when(F.col(C.PAYLOAD_HASH) == F.col("original_payload_hash"), F.lit("duplicate"))
        .otherwise(F.lit("conflict"))
    )
    return joined.withColumn("classification", classification)
