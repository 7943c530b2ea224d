"""Column names, table names and enumerations shared by every layer.

Declared once here so that no column name is a bare string in three places.
"""

from enum import Enum


class Column:
    """Column names used across bronze, silver, gold and billing tables."""

    # Kafka coordinates, carried from bronze to every downstream row so that each
    # record can be traced back to exactly one Kafka record.
    TOPIC = "topic"
    PARTITION = "partition"
    OFFSET = "offset"
    KAFKA_KEY = "key"
    KAFKA_VALUE = "value"
    KAFKA_TIMESTAMP = "kafka_timestamp"
    INGESTED_AT = "ingested_at"
    INGEST_DATE = "ingest_date"

    # CloudEvents envelope, after parsing.
    TENANT_ID = "tenant_id"
    EVENT_ID = "event_id"
    EVENT_TYPE = "event_type"
    SOURCE = "source"
    SPEC_VERSION = "specversion"
    SUBJECT = "subject"
    EVENT_TIME = "event_time"
    DATA = "data"
    PAYLOAD_HASH = "payload_hash"
    PROCESSED_AT = "processed_at"

    # Quarantine and duplicates.
    REASON_CODE = "reason_code"
    REASONS = "reasons"
    RAW_SUBJECT = "raw_subject"
    RAW_VALUE = "raw_value"
    ORIGINAL_TOPIC = "original_topic"
    ORIGINAL_PARTITION = "original_partition"
    ORIGINAL_OFFSET = "original_offset"

    # Gold usage.
    METER = "meter"
    DIMENSIONS = "dimensions"
    WINDOW_START = "window_start"
    WINDOW_END = "window_end"
    QUANTITY = "quantity"
    EVENT_COUNT = "event_count"
    FIRST_EVENT_TIME = "first_event_time"
    LAST_EVENT_TIME = "last_event_time"
    UNIT = "unit"
    AGGREGATION = "aggregation"


class Table(str, Enum):
    """Logical table names; ``TableLocator`` maps them to paths or catalog names."""

    BRONZE_EVENTS = "bronze.usage_events"
    SILVER_EVENTS = "silver.usage_events"
    SILVER_QUARANTINE = "silver.usage_quarantine"
    SILVER_DUPLICATES = "silver.usage_duplicates"
    GOLD_HOURLY = "gold.usage_hourly"
    GOLD_DAILY = "gold.usage_daily"
    GOLD_INVOICES = "gold.invoices"
    GOLD_INVOICE_LINES = "gold.invoice_lines"
    GOLD_RECONCILIATION = "gold.reconciliation"
    QUALITY_RESULTS = "quality.validation_results"


class Aggregation(str, Enum):
    """Aggregation that a meter applies to the values of its events within a window."""

    SUM = "SUM"
    COUNT = "COUNT"
    MAX = "MAX"
    UNIQUE_COUNT = "UNIQUE_COUNT"
    LATEST = "LATEST"


class ReasonCode(str, Enum):
    """Reason code of a bronze record that was quarantined instead of reaching silver.

    Listed in the order validation reports them; a record with several problems
    keeps all of them in ``reasons`` and the first one as ``reason_code``.
    """

    MALFORMED_JSON = "MALFORMED_JSON"
    NOT_AN_OBJECT = "NOT_AN_OBJECT"
    MISSING_FIELD = "MISSING_FIELD"
    INVALID_ATTRIBUTE_TYPE = "INVALID_ATTRIBUTE_TYPE"
    UNSUPPORTED_SPEC_VERSION = "UNSUPPORTED_SPEC_VERSION"
    INVALID_EVENT_ID = "INVALID_EVENT_ID"
    INVALID_TENANT_ID = "INVALID_TENANT_ID"
    KEY_SUBJECT_MISMATCH = "KEY_SUBJECT_MISMATCH"
    UNKNOWN_TENANT = "UNKNOWN_TENANT"
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    INVALID_TIME = "INVALID_TIME"
    EVENT_TOO_OLD = "EVENT_TOO_OLD"
    EVENT_IN_FUTURE = "EVENT_IN_FUTURE"
    INVALID_DATA = "INVALID_DATA"
    MISSING_QUANTITY = "MISSING_QUANTITY"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    NEGATIVE_QUANTITY = "NEGATIVE_QUANTITY"
    QUANTITY_TOO_LARGE = "QUANTITY_TOO_LARGE"
    DUPLICATE_ID_CONFLICT = "DUPLICATE_ID_CONFLICT"


class InvoiceStatus(str, Enum):
    """Lifecycle of an invoice document."""

    DRAFT = "draft"
    FINALIZED = "finalized"
    VOIDED = "voided"
