"""The continuous runner starts bronze first and the other layers after its first trigger."""

from __future__ import annotations

import logging

import pytest

from pipelines.errors import SetupError
from pipelines.load.generator import LoadProfile, default_start, generate_load
from pipelines.load.publisher import KafkaPublisher
from pipelines.streams import runner
from pipelines.streams.runner import run_layers_continuously


def first_index(messages: list[str], start: str) -> int:
    return next(index for index, message in enumerate(messages) if message.startswith(start))


@pytest.mark.slow
@pytest.mark.kafka
def test_silver_and_gold_start_after_bronze_has_triggered(spark, kafka_settings, caplog):
    profile = LoadProfile(tenants=2, rate=1.0, duration_seconds=60, start=default_start(60), seed=5)
    load = generate_load(profile, kafka_settings.meters)
    KafkaPublisher(kafka_settings.kafka).publish(load.records)
    caplog.set_level(logging.INFO, logger="pipelines.streams.runner")

    run_layers_continuously(spark, kafka_settings, timeout_seconds=1)

    messages = [record.getMessage() for record in caplog.records]
    assert first_index(messages, "bronze query started") < first_index(messages, "bronze first trigger")
    assert first_index(messages, "bronze first trigger") < first_index(messages, "silver query started")
    assert first_index(messages, "silver query started") < first_index(messages, "gold query started")
    assert not any(message.startswith(("silver first trigger", "gold first trigger")) for message in messages)
    assert f"bronze first trigger: batch 0, {load.summary.records} rows" in caplog.text
    assert not any(query.isActive for query in spark.streams.active)


@pytest.mark.slow
@pytest.mark.kafka
def test_failed_start_stops_started_queries(spark, kafka_settings):
    with pytest.raises(KeyError, match="platinum"):
        run_layers_continuously(spark, kafka_settings, ["bronze", "platinum"], timeout_seconds=1)

    assert spark.streams.active == []


class SilentQuery:
    """A query that never reports a trigger, as a stream over a huge first batch looks from outside."""

    isActive = True
    lastProgress = None

    def exception(self):
        return None

    def awaitTermination(self, timeout):
        return False


def test_silent_first_layer_waits_until_timeout(caplog):
    caplog.set_level(logging.INFO, logger="pipelines.streams.runner")

    runner._wait_for_first_trigger(SilentQuery(), "bronze", timeout_seconds=0.5)

    assert "bronze reported no trigger in 0.5s; starting the next layer" in caplog.text


@pytest.mark.parametrize(("layer", "missing"), [("silver", "bronze.usage_events"), ("gold", "silver.usage_events")])
def test_stream_without_upstream_table_rejected(spark, settings, layer, missing):
    with pytest.raises(SetupError, match=f"table {missing} not found at .*: the {layer} stream reads it"):
        runner.LAYERS[layer](spark, settings, True)


class RecordedQuery:
    """A query's progress list as Spark reports it: an idle trigger first, then the batch with data."""

    def __init__(self, progress):
        self.recentProgress = progress


def test_batch_after_idle_trigger_is_counted():
    run = runner.LayerRun("bronze")
    idle = {"batchId": 1, "numInputRows": 0}
    batch = {"batchId": 1, "numInputRows": 574, "processedRowsPerSecond": 100.0}

    runner._record_progress(RecordedQuery([idle]), run)
    runner._record_progress(RecordedQuery([idle, batch]), run)
    runner._record_progress(RecordedQuery([idle, batch]), run)

    assert run.batches == 1
    assert run.input_rows == 574
