"""Validate parsed events and give every rejected record its reasons.

Each check yields either NULL or a reason string ``"<CODE>: <detail>"``; a record
keeps all of its reasons, in the order of ``ReasonCode``, and the first one's
code becomes ``reason_code``. A malformed record gets MALFORMED_JSON alone,
because every other check would only repeat it.

Quantities are checked the way billing will read them: a JSON number or a
string in plain decimal notation, at most 26 integer and 12 fractional digits
(``DECIMAL(38, 12)``), not negative and not above ``ingest.max_quantity``.
Exponent notation, NaN and Infinity are rejected rather than rounded, because
rounding here would change an invoice without anyone seeing it.
"""

from __future__ import annotations

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.config import TENANT_ID_REGEX, Meter, Settings
from pipelines.silver.parse import DATA_VARIANT
from pipelines.silver.values import is_exact_number_or_text, value_text
from pipelines.vocabulary import Aggregation, ReasonCode
from pipelines.vocabulary import Column as C

REQUIRED_FIELDS = ("id", "source", "specversion", "type", "subject", "time", "data")
SUPPORTED_SPEC_VERSION = "1.0"

# Java regular expressions: \z anchors at the very end, so a trailing newline
# cannot slip through as `$` would let it.
SPARK_TENANT_ID_REGEX = TENANT_ID_REGEX.removesuffix("$") + r"\z"
PLAIN_DECIMAL_REGEX = r"^-?\d{1,26}(\.\d{1,12})?\z"
# More integer digits than DECIMAL(38, 12) holds: the value is well formed but
# far above any ingest.max_quantity. Reporting it as too large (or negative)
# gives the producer a more useful reason than "not a decimal".
OVERSIZED_DECIMAL_REGEX = r"^-?\d{27,}(\.\d+)?\z"
EVENT_ID_REGEX = r"^[\x21-\x7E]+\z"


def add_validation_reasons(events: DataFrame, settings: Settings) -> DataFrame:
    """Add ``reasons`` (array of strings, empty when valid) and ``reason_code``."""
    checks = _envelope_checks(settings) + _quantity_checks(settings)
    all_reasons = F.array_compact(F.array(*checks))
    reasons = F.when(F.col("is_malformed"), F.array(_reason(ReasonCode.MALFORMED_JSON, F.lit("the value is not valid JSON"))))
    reasons = reasons.when(F.col("has_repeated_key"), F.array(_reason(ReasonCode.MALFORMED_JSON, F.lit(
        "the object names a key more than once, so which value counts is ambiguous; send each key once"))))
    reasons = reasons.when(F.col("is_not_object"), F.array(_reason(ReasonCode.NOT_AN_OBJECT, F.lit("a CloudEvent must be a JSON object"))))
    reasons = reasons.otherwise(all_reasons)
    checked = events.withColumn(C.REASONS, reasons).withColumn(
        C.REASON_CODE, F.when(F.size(C.REASONS) > 0, F.split(F.col(C.REASONS)[0], ":")[0])
    )
    # The VARIANT has served the checks. Dropping it keeps the batch that the
    # silver stream caches to plain column types.
    return checked.drop(DATA_VARIANT)


def is_valid() -> SparkColumn:
    return F.size(F.col(C.REASONS)) == 0


def _envelope_checks(settings: Settings) -> list[SparkColumn]:
    missing = [F.when(F.col(name).isNull() | (F.trim(F.col(name)) == ""), F.lit(name)) for name in REQUIRED_FIELDS]
    missing_list = F.concat_ws(", ", F.array_compact(F.array(*missing)))
    known_tenants = sorted(settings.tenants)
    known_types = settings.event_types
    max_age_seconds = int(settings.ingest.max_event_age.total_seconds())
    max_skew_seconds = int(settings.ingest.max_future_skew.total_seconds())
    has_subject = F.col("subject").isNotNull()
    valid_subject = has_subject & F.col("subject").rlike(SPARK_TENANT_ID_REGEX)
    age_seconds = F.unix_timestamp(C.KAFKA_TIMESTAMP) - F.unix_timestamp(C.EVENT_TIME)

    non_string = F.col("non_string_attributes")
    return [
        F.when(F.length(missing_list) > 0, _reason(ReasonCode.MISSING_FIELD, F.concat(F.lit("missing or empty: "), missing_list))),
        F.when(F.length(non_string) > 0, _reason(ReasonCode.INVALID_ATTRIBUTE_TYPE, F.concat(
            F.lit("CloudEvents attributes must be JSON strings, not numbers, booleans, arrays or objects: "), non_string))),
        F.when(F.col("specversion").isNotNull() & (F.col("specversion") != SUPPORTED_SPEC_VERSION),
               _reason(ReasonCode.UNSUPPORTED_SPEC_VERSION, F.concat(F.lit("specversion must be 1.0, found "), _quoted("specversion")))),
        F.when(F.col("id").isNotNull() & ((F.length("id") > settings.ingest.max_event_id_length) | ~F.col("id").rlike(EVENT_ID_REGEX)),
               _reason(ReasonCode.INVALID_EVENT_ID, F.lit(
                   f"id must be 1 to {settings.ingest.max_event_id_length} printable ASCII characters without spaces"))),
        F.when(has_subject & ~valid_subject,
               _reason(ReasonCode.INVALID_TENANT_ID, F.concat(F.lit(f"subject must match {TENANT_ID_REGEX}, found "), _quoted("subject")))),
        F.when(F.col(C.KAFKA_KEY).isNotNull() & has_subject & (F.col(C.KAFKA_KEY) != F.col("subject")),
               _reason(ReasonCode.KEY_SUBJECT_MISMATCH, F.lit("the Kafka key must equal the subject (the tenant id)"))),
        F.when(valid_subject & ~F.col("subject").isin(known_tenants),
               _reason(ReasonCode.UNKNOWN_TENANT, F.concat(F.lit("tenant "), _quoted("subject"), F.lit(" is not in the tenant registry")))),
        F.when(F.col("type").isNotNull() & ~F.col("type").isin(known_types),
               _reason(ReasonCode.UNKNOWN_EVENT_TYPE, F.concat(F.lit("no meter reads event type "), _quoted("type")))),
        F.when(F.col("time").isNotNull() & F.col(C.EVENT_TIME).isNull(),
               _reason(ReasonCode.INVALID_TIME, F.concat(F.lit("time must be RFC 3339 with an offset, found "), _quoted("time")))),
        F.when(age_seconds > max_age_seconds,
               _reason(ReasonCode.EVENT_TOO_OLD, F.lit(f"event time is more than {settings.ingest.max_event_age.days} days before its Kafka timestamp"))),
        F.when(-age_seconds > max_skew_seconds,
               _reason(ReasonCode.EVENT_IN_FUTURE, F.lit(f"event time is more than {max_skew_seconds} s after its Kafka timestamp"))),
        F.when(F.col("data").isNotNull() & ~F.ltrim(F.col("data")).startswith("{"),
               _reason(ReasonCode.INVALID_DATA, F.lit("data must be a JSON object"))),
    ]


def _quantity_checks(settings: Settings) -> list[SparkColumn]:
    checks: list[SparkColumn] = []
    is_object_data = F.ltrim(F.col("data")).startswith("{")
    for meter in settings.meters:
        if meter.aggregation is Aggregation.COUNT or meter.value_path is None:
            continue
        applies = (F.col("type") == meter.event_type) & is_object_data
        raw = value_text(DATA_VARIANT, meter.value_path, parsed=True)
        exact = is_exact_number_or_text(DATA_VARIANT, meter.value_path, parsed=True)
        for check in _value_checks(meter, raw, exact, settings):
            checks.append(F.when(applies, check))
    return checks


def _value_checks(meter: Meter, raw: SparkColumn, exact: SparkColumn, settings: Settings) -> list[SparkColumn]:
    where = f"meter {meter.name} at {meter.value_path}"
    missing = F.when(raw.isNull(), _reason(ReasonCode.MISSING_QUANTITY, F.lit(f"{where} is missing or null")))
    if meter.aggregation is Aggregation.UNIQUE_COUNT:
        is_scalar = ~raw.startswith("{") & ~raw.startswith("[")
        return [missing, F.when(raw.isNotNull() & ~is_scalar,
                                _reason(ReasonCode.INVALID_QUANTITY, F.lit(f"{where} must be a string or a number")))]

    is_decimal = exact & raw.rlike(PLAIN_DECIMAL_REGEX)
    is_oversized = exact & raw.rlike(OVERSIZED_DECIMAL_REGEX)
    value = F.when(is_decimal, raw.cast("decimal(38,12)"))
    max_quantity = F.lit(str(settings.ingest.max_quantity)).cast("decimal(38,12)")
    is_negative = (is_decimal & (value < 0)) | (is_oversized & raw.startswith("-"))
    too_large = (is_decimal & (value > max_quantity)) | (is_oversized & ~raw.startswith("-"))
    return [
        missing,
        F.when(raw.isNotNull() & ~is_decimal & ~is_oversized, _reason(ReasonCode.INVALID_QUANTITY, F.concat(
            F.lit(f"{where} must be a decimal number with at most 12 fractional digits, found "), _truncated(raw)))),
        F.when(is_negative, _reason(ReasonCode.NEGATIVE_QUANTITY, F.concat(F.lit(f"{where} is negative: "), _truncated(raw)))),
        F.when(too_large, _reason(ReasonCode.QUANTITY_TOO_LARGE, F.concat(
            F.lit(f"{where} is above ingest.max_quantity {settings.ingest.max_quantity}: "), _truncated(raw)))),
    ]


def _reason(code: ReasonCode, detail: SparkColumn) -> SparkColumn:
    return F.concat(F.lit(f"{code.value}: "), detail)


def _quoted(column: str) -> SparkColumn:
    return F.concat(F.lit("'"), _truncated(F.col(column)), F.lit("'"))


def _truncated(value: SparkColumn, length: int = 80) -> SparkColumn:
    text = value.cast("string")
    return F.when(F.length(text) > length, F.concat(F.substring(text, 1, length), F.lit("..."))).otherwise(text)
