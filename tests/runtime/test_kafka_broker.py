"""Cluster ids for the local broker's storage format, its status wording, and the check of the stream's topic."""

import uuid
from dataclasses import replace

import pytest

from pipelines.bench.environment import free_loopback_ports
from pipelines.errors import BrokerError
from pipelines.runtime import kafka_broker

# 0xF8 as the first byte puts 62, the base64 digit "-", in the first six bits.
DASH_FIRST = uuid.UUID(bytes=b"\xf8" + bytes(15))
PLAIN = uuid.UUID(bytes=b"\x00" + bytes(15))


def test_cluster_id_never_starts_with_dash(monkeypatch):
    draws = iter([DASH_FIRST, DASH_FIRST, PLAIN])
    monkeypatch.setattr(kafka_broker.uuid, "uuid4", lambda: next(draws))

    cluster_id = kafka_broker._new_cluster_id()

    assert cluster_id == "AAAAAAAAAAAAAAAAAAAAAA"
    assert next(draws, None) is None


def test_cluster_id_is_22_base64_characters():
    cluster_id = kafka_broker._new_cluster_id()

    assert len(cluster_id) == 22
    assert not cluster_id.startswith("-")


@pytest.mark.kafka
def test_check_topic_names_missing_topic(kafka_settings):
    missing = replace(kafka_settings.kafka, topic="no-such-topic")

    with pytest.raises(BrokerError, match="topic 'no-such-topic' not found on 127.0.0.1:"):
        kafka_broker.check_topic(missing)


@pytest.mark.kafka
def test_check_topic_passes_existing_topic(kafka_settings):
    kafka_broker.check_topic(kafka_settings.kafka)


def test_check_topic_names_silent_address(settings):
    port = free_loopback_ports(1)[0]
    silent = replace(settings.kafka, bootstrap_servers=f"127.0.0.1:{port}")

    with pytest.raises(BrokerError, match=f"Kafka at 127.0.0.1:{port} did not respond within 1 s") as raised:
        kafka_broker.check_topic(silent, timeout_seconds=1)

    assert "meterhouse kafka start" in str(raised.value)


def test_status_wording_per_state():
    from pipelines.runtime.kafka_broker import BrokerStatus

    assert BrokerStatus(41, True, "127.0.0.1:9092").describe() == "running: pid 41, answering on 127.0.0.1:9092"
    assert BrokerStatus(41, False, "127.0.0.1:9092").describe() == "process 41 exists but 127.0.0.1:9092 does not answer"
    assert BrokerStatus(None, False, "127.0.0.1:9092").describe() == "not running: nothing answers on 127.0.0.1:9092"
