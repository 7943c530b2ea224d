"""Publishing through the real local broker and reading the records back."""

import gc
import time
import uuid
import weakref
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from confluent_kafka import Consumer, KafkaError

from pipelines.load.events import UsageEvent, encode_event
from pipelines.load.publisher import ClientErrors, KafkaPublisher

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


@pytest.mark.kafka
@pytest.mark.parametrize(("speedup", "shortest", "longest"), [(1.0, 2.0, 3.5), (4.0, 0.5, 1.9)])
def test_realtime_publishing_at_speedup(kafka_settings, speedup, shortest, longest):
    # Records 0, 1 and 2 seconds into the load: the last goes out 2 / speedup seconds after the
    # first. The bounds leave room for a loaded machine and still tell 4× from real time.
    events = [UsageEvent("tenant-0001", f"paced-{speedup}-{second}", "api.request",
                         datetime(2024, 11, 1, 5, 0, second, tzinfo=timezone.utc),
                         {"region": "eu-west-1", "bytes_out": Decimal("1")}, "test") for second in range(3)]
    records = [encode_event(event, stream_seconds=float(second)) for second, event in enumerate(events)]

    report = KafkaPublisher(kafka_settings.kafka).publish(records, realtime=True, speedup=speedup)

    assert report.delivered == 3
    assert shortest <= report.elapsed_seconds < longest


@pytest.mark.kafka
def test_speedup_must_be_positive(kafka_settings):
    with pytest.raises(ValueError, match="speedup must be above 0"):
        KafkaPublisher(kafka_settings.kafka).publish([], realtime=True, speedup=0)


def usage_record(number):
    event = UsageEvent("tenant-0001", f"event-{number}", "api.request",
                       datetime(2024, 11, 1, 5, number, tzinfo=timezone.utc), {"region": "eu-west-1"}, "test")
    return encode_event(event)


@pytest.mark.kafka
def test_publisher_freed_after_publish(kafka_settings):
    # With the cyclic collector off, only reference counting can free the publisher, as it
    # must for its producer to stop before the broker does.
    gc.disable()
    try:
        publisher = KafkaPublisher(kafka_settings.kafka)
        publisher.publish([usage_record(1)])
        reference = weakref.ref(publisher)
        del publisher

        assert reference() is None
    finally:
        gc.enable()


def test_only_fatal_client_errors_kept():
    errors = ClientErrors()
    fatal = KafkaError(KafkaError._FATAL, "fenced", fatal=True)

    errors.on_error(KafkaError(KafkaError._TRANSPORT, "broker down"))
    assert errors.fatal is None

    errors.on_error(fatal)
    assert errors.fatal is fatal
