"""Usage events as the load tools build them, and their CloudEvents 1.0 encoding.

Quantities stay ``Decimal`` from their source to the Kafka record: ``render_json``
writes a ``Decimal`` as a plain JSON number (``12.5``, never ``1.25E+1`` and never
through ``float``), so silver reads exactly the digits the producer chose.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

SPEC_VERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"
# Silver stores quantities as DECIMAL(38, 12) and rejects values with more
# fractional digits, so every producer here keeps quantities at this scale or less.
MAX_QUANTITY_SCALE = 12


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One valid usage event before encoding.

    ``time`` is timezone-aware UTC. ``data`` contains ``Decimal`` or ``int`` for
    numbers and ``str`` for dimensions; it becomes the CloudEvents ``data`` object.
    """

    tenant_id: str
    event_id: str
    event_type: str
    time: datetime
    data: dict[str, Any]
    source: str


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """One Kafka record to publish: key and value bytes exactly as sent.

    ``stream_seconds`` is the position of the record in event time, in seconds
    after the start of the load; ``--realtime`` paces sends by it.
    """

    key: bytes
    value: bytes
    stream_seconds: float = 0.0


def format_event_time(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with a ``Z`` offset.

    Fractional seconds are written with 6 digits when present and left out
    when zero: ``2024-11-01T00:10:00.030000Z``, ``2024-11-01T00:00:00Z``.
    """
    if moment.tzinfo is None:
        raise ValueError(f"event time {moment!r} has no time zone; pass an aware UTC datetime")
    utc = moment.astimezone(timezone.utc)
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return utc.strftime(pattern)


def to_cloud_event(event: UsageEvent) -> dict[str, Any]:
    """Return the CloudEvents 1.0 structured-mode envelope of ``event``."""
    return {
        "specversion": SPEC_VERSION,
        "id": event.event_id,
        "source": event.source,
        "type": event.event_type,
        "subject": event.tenant_id,
        "time": format_event_time(event.time),
        "datacontenttype": DATA_CONTENT_TYPE,
        "data": event.data,
    }


def encode_event(event: UsageEvent, stream_seconds: float = 0.0) -> KafkaRecord:
    """Encode ``event`` as a Kafka record: key = tenant id, value = envelope JSON."""
    value = render_json(to_cloud_event(event)).encode("utf-8")
    return KafkaRecord(key=event.tenant_id.encode("utf-8"), value=value, stream_seconds=stream_seconds)


def render_json(value: Any) -> str:
    """Render ``value`` as compact JSON, writing ``Decimal`` as an exact JSON number.

    ``float`` is accepted only so that malformed test records can carry ``NaN``
    (rendered as the bare token ``NaN``, as Python's ``json`` module does).
    """
    numbers: list[str] = []

    def mark_decimal(item: Any) -> str:
        if not isinstance(item, Decimal):
            raise TypeError(f"cannot render {type(item).__name__} as JSON: {item!r}")
        if not item.is_finite():
            raise ValueError(f"cannot render the non-finite decimal {item} as a JSON number")
        numbers.append(format(item, "f"))
        return f"{_MARK}{len(numbers) - 1}{_MARK}"

    # One pass of the C encoder with each Decimal as a marker string, then the
    # markers are replaced by the digits. This is faster than walking the object in Python.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=mark_decimal)
    if not numbers:
        return text
    rendered, replaced = _MARKER_PATTERN.subn(lambda match: numbers[int(match.group(1))], text)
    if replaced != len(numbers):
        raise ValueError(f"a string value looks like an internal number marker; cannot render {value!r}")
    return rendered


_MARK = "\x00"
_MARKER_PATTERN = re.compile(r'"\\u0000(\d+)\\u0000"')
