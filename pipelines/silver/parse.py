"""Parse bronze records as CloudEvents 1.0 structured-mode JSON.

Parsing never drops a record: a value that is not JSON, or not a JSON object,
comes out with ``is_malformed`` or ``is_not_object`` set, an object that names
a key twice with ``has_repeated_key``, so validation can quarantine it with its
reason.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from pipelines.schemas import CLOUD_EVENT_ENVELOPE
from pipelines.vocabulary import Column as C

CORRUPT_RECORD = "_corrupt_record"
ENVELOPE = "envelope"
VALUE_TEXT = "value_text"
VALUE_VARIANT = "value_variant"
# The event's `data` as a VARIANT, so validation reads meter values without
# parsing the JSON text again for every meter.
DATA_VARIANT = "data_variant"
# CloudEvents 1.0 types these attributes as String. from_json would read a JSON
# number into a string field ("id": 7 as "7"), so their JSON type is checked.
STRING_ATTRIBUTES = ("id", "source", "specversion", "type", "subject", "time")

# RFC 3339 date-time with a mandatory offset; fractions up to microseconds,
# which is what a Spark timestamp stores.
RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})\z"

_PARSE_SCHEMA = StructType(CLOUD_EVENT_ENVELOPE.fields + [StructField(CORRUPT_RECORD, StringType(), True)])
_PARSE_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD, "allowNonNumericNumbers": "false"}


def parse_events(bronze: DataFrame) -> DataFrame:
    """Add the parsed envelope fields, the event time in UTC and parse flags.

    Output columns, besides the bronze ones: ``id``, ``source``,
    ``specversion``, ``type``, ``subject``, ``time`` (raw text), ``data`` (raw
    JSON text of the object), ``data_variant`` (the same as a VARIANT),
    ``event_time`` (UTC timestamp or NULL), ``is_malformed``,
    ``has_repeated_key``, ``is_not_object`` and ``non_string_attributes``.
    """
    text = F.col(C.KAFKA_VALUE).cast("string")
    trimmed = F.ltrim(text)
    parsed = bronze.withColumn(VALUE_TEXT, text).withColumn(
        ENVELOPE, F.from_json(F.col(VALUE_TEXT), _PARSE_SCHEMA, _PARSE_OPTIONS)
    )

    is_object_text = trimmed.startswith("{")
    parsed = parsed.withColumn(VALUE_VARIANT, F.expr(f"try_parse_json({VALUE_TEXT})"))

    is_malformed = (
        F.col(VALUE_TEXT).isNull()
        | (F.length(F.trim(F.col(VALUE_TEXT))) == 0)
        | (is_object_text & (F.col(ENVELOPE).isNull() | F.col(f"{ENVELOPE}.{CORRUPT_RECORD}").isNotNull()))
        # from_json stops after the first object and ignores what follows it.
        # NOTE: text after the object that itself ends in "}" still passes.
        | (is_object_text & ~F.rtrim(F.col(VALUE_TEXT)).endswith("}"))
        | (~is_object_text & F.col(VALUE_VARIANT).isNull())
    )
    # The VARIANT parser refuses an object with a repeated key, which from_json
    # would have accepted by keeping one of the values.
    has_repeated_key = is_object_text & ~is_malformed & F.col(VALUE_VARIANT).isNull()
    envelope_fields = [F.col(f"{ENVELOPE}.{field.name}").alias(field.name)
                       for field in CLOUD_EVENT_ENVELOPE.fields if field.name != "data"]
    # from_json prints a nested object again through doubles (0.0002355203
    # becomes 2.355203E-4), so `data` is taken from the VARIANT parse, which
    # keeps every JSON number that fits DECIMAL(38) exactly.
    exact_data = F.expr(f"to_json(variant_get({VALUE_VARIANT}, '$.data'))")

    return parsed.select(
        *bronze.columns,
        *envelope_fields,
        F.when(F.col(f"{ENVELOPE}.data").isNotNull(), exact_data).alias("data"),
        F.when(F.col(f"{ENVELOPE}.data").isNotNull(), F.expr(f"variant_get({VALUE_VARIANT}, '$.data')")).alias(DATA_VARIANT),
        F.when(F.col(f"{ENVELOPE}.time").rlike(RFC3339_PATTERN), F.expr(f"try_cast({ENVELOPE}.time AS TIMESTAMP)"))
        .alias(C.EVENT_TIME),
        is_malformed.alias("is_malformed"),
        has_repeated_key.alias("has_repeated_key"),
        (~is_malformed & ~is_object_text).alias("is_not_object"),
        _non_string_attributes().alias("non_string_attributes"),
    )


def _non_string_attributes():
    """Comma-separated names of the string attributes that hold another JSON type; empty when none."""
    names = []
    for name in STRING_ATTRIBUTES:
        kind = F.expr(f"schema_of_variant(variant_get({VALUE_VARIANT}, '$.{name}'))")
        names.append(F.when(kind.isNotNull() & ~kind.isin("STRING", "VOID"), F.lit(name)))
    return F.concat_ws(", ", F.array_compact(F.array(*names)))
