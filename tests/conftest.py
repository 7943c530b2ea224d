"""Shared fixtures: one Spark session per test run, settings on a temporary lake,
and a real local Kafka broker for the tests marked ``kafka``."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from pipelines.config import DEFAULT_CONF, load_settings

# Spark stores UTC and PySpark returns naive datetimes in the process's zone.
os.environ["TZ"] = "UTC"
time.tzset()

TEST_BROKER_PORT = int(os.environ.get("METERHOUSE_TEST_BROKER_PORT", "19092"))


def make_settings(lake_root: Path, **overrides):
    """Settings of conf/local.yaml with the lake under ``lake_root``."""
    values = {
        "lake.root": str(lake_root / "lake"),
        "exports.root": str(lake_root / "exports"),
        "broker.port": TEST_BROKER_PORT,
        "broker.controller_port": TEST_BROKER_PORT + 1,
        "kafka.bootstrap_servers": f"127.0.0.1:{TEST_BROKER_PORT}",
        "spark.master": "local[2]",
        "spark.shuffle_partitions": 2,
    }
    values.update(overrides)
    return load_settings(DEFAULT_CONF, values)


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("meterhouse")


@pytest.fixture(scope="session")
def spark(session_dir):
    from pipelines.session import build_local_session

    settings = make_settings(session_dir)
    session = build_local_session(settings, {"spark.ui.enabled": "false", "spark.driver.memory": "3g",
                                             "spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def kafka_broker(session_dir):
    """A real single-node KRaft broker on loopback, started once per test run."""
    from pipelines.runtime.kafka_broker import LocalBroker

    settings = make_settings(session_dir, **{"broker.data_dir": str(session_dir / "kafka")})
    broker = LocalBroker(settings.broker)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def kafka_settings(kafka_broker, tmp_path):
    """Settings on a fresh topic of the shared test broker and a fresh lake."""
    from pipelines.runtime.kafka_broker import ensure_topic

    topic = f"usage-{uuid.uuid4().hex[:10]}"
    settings = make_settings(tmp_path, **{"kafka.topic": topic, "kafka.partitions": 2})
    ensure_topic(settings.kafka)
    return settings
