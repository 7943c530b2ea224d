"""Cluster ids for the local broker's storage format."""

import uuid

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
