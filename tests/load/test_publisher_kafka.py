"""Publishing through the real local broker and reading the records back."""

import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from confluent_kafka import Consumer

from pipelines.load.events import UsageEvent, encode_event
from pipelines.load.publisher import KafkaPublisher

READ_TIMEOUT_SECONDS = 30


def read_all(settings, expected_count):
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"test-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": "false"})
    consumer.subscribe([settings.kafka.topic])
    messages = []
    try:
        deadline = time.monotonic() + READ_TIMEOUT_SECONDS
        while len(messages) < expected_count and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                messages.append(message)
        # Poll once more so that an extra record would show up in the count.
        extra = consumer.poll(2.0)
        if extra is not None and extra.error() is None:
            messages.append(extra)
    finally:
        consumer.close()
    return messages


@pytest.mark.kafka
def test_published_records_read_back(kafka_settings):
    events = [
        UsageEvent(tenant, f"event-{number}", "api.request", datetime(2024, 11, 1, 5, number, tzinfo=timezone.utc),
                   {"region": "eu-west-1", "bytes_out": Decimal("10.5")}, "test")
        for number, tenant in enumerate(["tenant-0001", "tenant-0002", "tenant-0001", "tenant-0003", "tenant-0002"])
    ]
    records = [encode_event(event) for event in events]

    report = KafkaPublisher(kafka_settings.kafka).publish(records)
    messages = read_all(kafka_settings, len(records))

    assert report.sent == 5
    assert report.delivered == 5
    assert report.failed == 0
    assert len(messages) == 5
    assert sorted(message.key() for message in messages) == [b"tenant-0001", b"tenant-0001", b"tenant-0002",
                                                               b"tenant-0002", b"tenant-0003"]
    assert sorted(message.value() for message in messages) == sorted(record.value for record in records)
