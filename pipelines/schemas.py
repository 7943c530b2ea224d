"""Schemas of the bronze, silver and gold tables and of the event envelope.

Quantities are ``DECIMAL(38, 12)``: 26 integer digits and 12 fractional digits,
enough for byte counts and for fractional seconds of normalized CPU. Spark runs
with ANSI mode on, so an overflow fails the batch instead of becoming NULL.
"""

from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from pipelines.vocabulary import Column as C

QUANTITY_TYPE = DecimalType(38, 12)

KAFKA_COORDINATES = [
    StructField(C.TOPIC, StringType(), False),
    StructField(C.PARTITION, IntegerType(), False),
    StructField(C.OFFSET, LongType(), False),
]

BRONZE_EVENTS = StructType(
    KAFKA_COORDINATES
    + [
        StructField(C.KAFKA_KEY, StringType(), True),
        StructField(C.KAFKA_VALUE, BinaryType(), True),
        StructField(C.KAFKA_TIMESTAMP, TimestampType(), False),
        StructField(C.INGESTED_AT, TimestampType(), False),
        StructField(C.INGEST_DATE, DateType(), False),
    ]
)

# CloudEvents 1.0 structured-mode envelope. Every field is read as a string so
# that a wrong JSON type becomes a validation reason instead of a NULL; `data`
# keeps the raw JSON text of the object.
CLOUD_EVENT_ENVELOPE = StructType(
    [
        StructField("id", StringType(), True),
        StructField("source", StringType(), True),
        StructField("specversion", StringType(), True),
        StructField("type", StringType(), True),
        StructField("subject", StringType(), True),
        StructField("time", StringType(), True),
        StructField("data", StringType(), True),
    ]
)

SILVER_EVENTS = StructType(
    [
        StructField(C.TENANT_ID, StringType(), False),
        StructField(C.EVENT_ID, StringType(), False),
        StructField(C.EVENT_TYPE, StringType(), False),
        StructField(C.SOURCE, StringType(), False),
        StructField(C.EVENT_TIME, TimestampType(), False),
        StructField(C.DATA, StringType(), False),
        StructField(C.PAYLOAD_HASH, StringType(), False),
    ]
    + KAFKA_COORDINATES
    + [
        StructField(C.KAFKA_TIMESTAMP, TimestampType(), False),
        StructField(C.PROCESSED_AT, TimestampType(), False),
    ]
)

SILVER_QUARANTINE = StructType(
    KAFKA_COORDINATES
    + [
        StructField(C.REASON_CODE, StringType(), False),
        StructField(C.REASONS, ArrayType(StringType(), True), False),
        # The tenant id when the subject passed the tenant id pattern, else NULL;
        # a hostile subject stays in raw_subject and never reaches a path.
        StructField(C.TENANT_ID, StringType(), True),
        StructField(C.RAW_SUBJECT, StringType(), True),
        StructField(C.EVENT_ID, StringType(), True),
        StructField(C.EVENT_TYPE, StringType(), True),
        StructField(C.EVENT_TIME, TimestampType(), True),
        StructField(C.KAFKA_KEY, StringType(), True),
        StructField(C.RAW_VALUE, BinaryType(), True),
        StructField(C.KAFKA_TIMESTAMP, TimestampType(), False),
        StructField(C.PROCESSED_AT, TimestampType(), False),
    ]
)

# Exact re-deliveries of an event already in silver: same tenant, id and
# payload hash, another Kafka record. Kept so that conservation counts them.
SILVER_DUPLICATES = StructType(
    KAFKA_COORDINATES
    + [
        StructField(C.TENANT_ID, StringType(), False),
        StructField(C.EVENT_ID, StringType(), False),
        StructField(C.EVENT_TIME, TimestampType(), False),
        StructField(C.PAYLOAD_HASH, StringType(), False),
        StructField(C.ORIGINAL_TOPIC, StringType(), False),
        StructField(C.ORIGINAL_PARTITION, IntegerType(), False),
        StructField(C.ORIGINAL_OFFSET, LongType(), False),
        StructField(C.KAFKA_TIMESTAMP, TimestampType(), False),
        StructField(C.PROCESSED_AT, TimestampType(), False),
    ]
)

# One row per tenant, meter, dimensions and window ([window_start, window_end)
# in UTC). `dimensions` is a JSON object of the meter's group_by fields in
# configuration order, so equal dimensions give equal strings.
GOLD_USAGE = StructType(
    [
        StructField(C.TENANT_ID, StringType(), False),
        StructField(C.METER, StringType(), False),
        StructField(C.DIMENSIONS, StringType(), False),
        StructField(C.WINDOW_START, TimestampType(), False),
        StructField(C.WINDOW_END, TimestampType(), False),
        StructField(C.AGGREGATION, StringType(), False),
        StructField(C.QUANTITY, QUANTITY_TYPE, False),
        StructField(C.EVENT_COUNT, LongType(), False),
        StructField(C.FIRST_EVENT_TIME, TimestampType(), False),
        StructField(C.LAST_EVENT_TIME, TimestampType(), False),
        StructField(C.UNIT, StringType(), False),
    ]
)
