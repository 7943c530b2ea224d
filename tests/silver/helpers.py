"""Build bronze rows inline for silver tests."""

from __future__ import annotations

import json
from datetime import date, datetime

from pipelines.schemas import BRONZE_EVENTS

KAFKA_TIME = datetime(2026, 11, 15, 12, 0, 0)


def cloud_event(event_id="e-1", tenant="acme", event_type="api.request", time="2026-11-15T11:30:00Z",
                data=None, **overrides) -> str:
    envelope = {"id": event_id, "source": "test", "specversion": "1.0", "type": event_type, "subject": tenant,
                "time": time, "data": {"region": "eu-west-1", "bytes_out": 100} if data is None else data}
    envelope.update(overrides)
    return json.dumps(envelope)


def bronze_rows(spark, values, key="acme", topic="usage", partition=0, first_offset=0, kafka_time=KAFKA_TIME):
    """Bronze DataFrame whose records carry ``values`` at consecutive offsets."""
    rows = []
    for index, value in enumerate(values):
        raw = value.encode() if isinstance(value, str) else value
        row_key = key(index) if callable(key) else key
        rows.append((topic, partition, first_offset + index, row_key, raw, kafka_time, kafka_time, date(2026, 11, 15)))
    return spark.createDataFrame(rows, BRONZE_EVENTS)
