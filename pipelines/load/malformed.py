"""Malformed records for load tests, each with the one reason silver should report.

Every kind breaks exactly one rule of the event contract, so the expected
``ReasonCode`` is unambiguous for a validator that checks the rules in the
order ``ReasonCode`` lists them. The template is a valid ``compute.usage``
event, whose ``cpu_seconds`` is the quantity the quantity kinds break.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum

from pipelines.load.events import MAX_QUANTITY_SCALE, UsageEvent, format_event_time, render_json, to_cloud_event
from pipelines.vocabulary import ReasonCode

TEMPLATE_EVENT_TYPE = "compute.usage"
QUANTITY_FIELD = "cpu_seconds"
# An event time no Kafka timestamp of this century comes close to.
FAR_FUTURE_TIME = "2999-01-01T00:00:00Z"
# Older than ingest.max_event_age_days (90 by default) for any load published
# less than 30 days after its start.
TOO_OLD_AGE = timedelta(days=120)


class MalformedKind(str, Enum):
    """One way a producer can break the event contract."""

    TRUNCATED_JSON = "truncated_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_ID = "missing_id"
    WRONG_SPEC_VERSION = "wrong_spec_version"
    INVALID_TENANT_ID = "invalid_tenant_id"
    KEY_SUBJECT_MISMATCH = "key_subject_mismatch"
    UNKNOWN_TENANT = "unknown_tenant"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_TIME = "invalid_time"
    TOO_OLD = "too_old"
    IN_FUTURE = "in_future"
    DATA_NOT_AN_OBJECT = "data_not_an_object"
    MISSING_QUANTITY = "missing_quantity"
    NON_NUMERIC_QUANTITY = "non_numeric_quantity"
    BOOLEAN_QUANTITY = "boolean_quantity"
    NAN_QUANTITY = "nan_quantity"
    EXCESS_SCALE_QUANTITY = "excess_scale_quantity"
    NEGATIVE_QUANTITY = "negative_quantity"
    QUANTITY_TOO_LARGE = "quantity_too_large"


EXPECTED_REASON: dict[MalformedKind, ReasonCode] = {
    MalformedKind.TRUNCATED_JSON: ReasonCode.MALFORMED_JSON,
    MalformedKind.NOT_AN_OBJECT: ReasonCode.NOT_AN_OBJECT,
    MalformedKind.MISSING_ID: ReasonCode.MISSING_FIELD,
    MalformedKind.WRONG_SPEC_VERSION: ReasonCode.UNSUPPORTED_SPEC_VERSION,
    MalformedKind.INVALID_TENANT_ID: ReasonCode.INVALID_TENANT_ID,
    MalformedKind.KEY_SUBJECT_MISMATCH: ReasonCode.KEY_SUBJECT_MISMATCH,
    MalformedKind.UNKNOWN_TENANT: ReasonCode.UNKNOWN_TENANT,
    MalformedKind.UNKNOWN_EVENT_TYPE: ReasonCode.UNKNOWN_EVENT_TYPE,
    MalformedKind.INVALID_TIME: ReasonCode.INVALID_TIME,
    MalformedKind.TOO_OLD: ReasonCode.EVENT_TOO_OLD,
    MalformedKind.IN_FUTURE: ReasonCode.EVENT_IN_FUTURE,
    MalformedKind.DATA_NOT_AN_OBJECT: ReasonCode.INVALID_DATA,
    MalformedKind.MISSING_QUANTITY: ReasonCode.MISSING_QUANTITY,
    MalformedKind.NON_NUMERIC_QUANTITY: ReasonCode.INVALID_QUANTITY,
    MalformedKind.BOOLEAN_QUANTITY: ReasonCode.INVALID_QUANTITY,
    # A bare NaN token is not JSON (RFC 8259), and silver parses with
    # non-numeric numbers disallowed, so the whole record is malformed.
    MalformedKind.NAN_QUANTITY: ReasonCode.MALFORMED_JSON,
    MalformedKind.EXCESS_SCALE_QUANTITY: ReasonCode.INVALID_QUANTITY,
    MalformedKind.NEGATIVE_QUANTITY: ReasonCode.NEGATIVE_QUANTITY,
    MalformedKind.QUANTITY_TOO_LARGE: ReasonCode.QUANTITY_TOO_LARGE,
}


def build_malformed_record(kind: MalformedKind, rng: random.Random, tenant_id: str, event_id: str,
                           moment: datetime, source: str, max_quantity: Decimal) -> tuple[bytes, bytes]:
    """Build the key and value bytes of one record that breaks the contract in the way ``kind`` names.

    ``max_quantity`` is the ingest limit, and the too-large kind exceeds it by one.
    """
    template = UsageEvent(
        tenant_id=tenant_id,
        event_id=event_id,
        event_type=TEMPLATE_EVENT_TYPE,
        time=moment,
        data={"instance_type": "m5.large", QUANTITY_FIELD: Decimal("1.5"), "concurrency": 1, "user_id": "user-000"},
        source=source,
    )
    envelope = to_cloud_event(template)
    key = tenant_id

    if kind is MalformedKind.TRUNCATED_JSON:
        text = render_json(envelope)
        # Cutting at least the closing brace never leaves valid JSON.
        return key.encode(), text[: rng.randint(1, len(text) - 1)].encode()
    if kind is MalformedKind.NOT_AN_OBJECT:
        return key.encode(), render_json([envelope]).encode()

    if kind is MalformedKind.MISSING_ID:
        del envelope["id"]
    elif kind is MalformedKind.WRONG_SPEC_VERSION:
        envelope["specversion"] = "0.3"
    elif kind is MalformedKind.INVALID_TENANT_ID:
        envelope["subject"] = key = f"{tenant_id}/../other"
    elif kind is MalformedKind.KEY_SUBJECT_MISMATCH:
        key = f"{tenant_id}-other"
    elif kind is MalformedKind.UNKNOWN_TENANT:
        envelope["subject"] = key = f"unknown-{tenant_id}"
    elif kind is MalformedKind.UNKNOWN_EVENT_TYPE:
        envelope["type"] = "compute.unknown"
    elif kind is MalformedKind.INVALID_TIME:
        envelope["time"] = "yesterday at noon"
    elif kind is MalformedKind.TOO_OLD:
        envelope["time"] = format_event_time(moment - TOO_OLD_AGE)
    elif kind is MalformedKind.IN_FUTURE:
        envelope["time"] = FAR_FUTURE_TIME
    elif kind is MalformedKind.DATA_NOT_AN_OBJECT:
        envelope["data"] = "cpu_seconds=1.5"
    else:
        _break_quantity(kind, envelope["data"], max_quantity)
    return key.encode(), render_json(envelope).encode()


def _break_quantity(kind: MalformedKind, data: dict, max_quantity: Decimal) -> None:
    if kind is MalformedKind.MISSING_QUANTITY:
        del data[QUANTITY_FIELD]
    elif kind is MalformedKind.NON_NUMERIC_QUANTITY:
        data[QUANTITY_FIELD] = "lots"
    elif kind is MalformedKind.BOOLEAN_QUANTITY:
        data[QUANTITY_FIELD] = True
    elif kind is MalformedKind.NAN_QUANTITY:
        data[QUANTITY_FIELD] = float("nan")
    elif kind is MalformedKind.EXCESS_SCALE_QUANTITY:
        data[QUANTITY_FIELD] = Decimal(1).scaleb(-(MAX_QUANTITY_SCALE + 1)) + 1
    elif kind is MalformedKind.NEGATIVE_QUANTITY:
        data[QUANTITY_FIELD] = Decimal("-1.5")
    elif kind is MalformedKind.QUANTITY_TOO_LARGE:
        data[QUANTITY_FIELD] = max_quantity + 1
    else:
        raise ValueError(f"unhandled malformed kind {kind}")

