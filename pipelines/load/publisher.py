"""Publish Kafka records with an idempotent, acks=all confluent-kafka producer.

Delivery guarantee: every record is either acknowledged by all in-sync replicas
or reported as failed, and the idempotent producer never writes a retried
record twice. A re-run of the same load publishes the records again. Silver
drops them as duplicates by tenant and event id, so a re-run is safe but not free.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, Producer

from pipelines.config import KafkaSettings
from pipelines.load.errors import PublishError
from pipelines.load.events import KafkaRecord

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECONDS = 5.0
FLUSH_TIMEOUT_SECONDS = 120.0
MAX_REPORTED_FAILURES = 5

# Batching defaults; kafka.options in the environment file override them.
BATCHING_DEFAULTS = {
    "compression.type": "lz4",
    "linger.ms": "20",
    "batch.size": "1000000",
    "queue.buffering.max.messages": "500000",
    "queue.buffering.max.kbytes": "1048576",
}
# The delivery guarantee above depends on these, so no option overrides them.
DELIVERY_GUARANTEES = {
    "enable.idempotence": "true",
    "acks": "all",
}


@dataclass
class PublishReport:
    """Counts of one publish run; ``records_per_second`` is measured wall-clock throughput."""

    topic: str
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    elapsed_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def on_delivery(self, error: KafkaError | None, message) -> None:
        """Count one delivery report; librdkafka calls it from ``poll`` and ``flush``."""
        if error is None:
            self.delivered += 1
            return
        self.failed += 1
        if len(self.failures) < MAX_REPORTED_FAILURES:
            self.failures.append(f"key {message.key()!r}: {error}")

    @property
    def records_per_second(self) -> float:
        return self.delivered / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def describe(self) -> str:
        return (f"published {self.delivered} records to topic {self.topic} in {self.elapsed_seconds:.1f} s "
                f"({self.records_per_second:,.0f} records/s)")


def producer_config(kafka: KafkaSettings) -> dict[str, str]:
    """Return the producer configuration: batching defaults, user options, guarantees."""
    config = dict(BATCHING_DEFAULTS)
    config.update(kafka.client_config())
    config.update(DELIVERY_GUARANTEES)
    return config


class ClientErrors:
    """Errors that librdkafka reports outside any one delivery; a fatal one stops publishing."""

    def __init__(self) -> None:
        self.fatal: KafkaError | None = None

    def on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self.fatal = error
            log.error("fatal Kafka producer error, publishing stops: %s", error)
        else:
            # librdkafka retries transient errors (broker down, timeouts) by itself.
            log.warning("Kafka producer error, retrying: %s", error)


class KafkaPublisher:
    """Send records to the usage topic and account for every delivery."""

    def __init__(self, kafka: KafkaSettings, progress_interval_seconds: float = PROGRESS_INTERVAL_SECONDS):
        self.kafka = kafka
        self.progress_interval_seconds = progress_interval_seconds
        self._client_errors = ClientErrors()
        # A bound method of the publisher as callback would make a reference cycle, so the
        # producer would outlive its publish and keep reconnecting after the broker stops.
        self._producer = Producer({**producer_config(kafka), "error_cb": self._client_errors.on_error})

    def publish(self, records: Iterable[KafkaRecord], realtime: bool = False, speedup: float = 1.0,
                clock: Callable[[], float] = time.monotonic) -> PublishReport:
        """Send ``records`` in order, flush, and return the counts.

        With ``realtime`` a record is sent no earlier than its ``stream_seconds``
        divided by ``speedup`` after the first send, so event time advances
        ``speedup`` times as fast as the wall clock (1.0: at the same pace).
        Raises ``PublishError`` after the flush if any record was not delivered;
        the records that were delivered stay in the topic.
        """
        if speedup <= 0:
            raise ValueError(f"speedup must be above 0, found {speedup}; use 1.0 to publish in real time")
        report = PublishReport(topic=self.kafka.topic)
        started = clock()
        next_progress = started + self.progress_interval_seconds

        for record in records:
            if realtime:
                _sleep_until(started + record.stream_seconds / speedup, clock)
            self._produce(record, report)
            report.sent += 1
            if clock() >= next_progress:
                self._log_progress(report, clock() - started)
                next_progress += self.progress_interval_seconds
            if self._client_errors.fatal is not None:
                break

        undelivered = self._producer.flush(FLUSH_TIMEOUT_SECONDS)
        report.elapsed_seconds = clock() - started
        self._raise_on_loss(report, undelivered)
        log.info("%s", report.describe())
        return report

    def _produce(self, record: KafkaRecord, report: PublishReport) -> None:
        while True:
            try:
                self._producer.produce(self.kafka.topic, value=record.value, key=record.key,
                                       on_delivery=report.on_delivery)
                break
            except BufferError:
                # The local queue is full: serve delivery reports until it drains.
                self._producer.poll(0.05)
        self._producer.poll(0)

    def _log_progress(self, report: PublishReport, elapsed: float) -> None:
        rate = report.delivered / elapsed if elapsed > 0 else 0.0
        log.info("publishing to %s: %d sent, %d delivered, %d failed, %.0f records/s",
                 self.kafka.topic, report.sent, report.delivered, report.failed, rate)

    def _raise_on_loss(self, report: PublishReport, undelivered: int) -> None:
        problems = []
        if self._client_errors.fatal is not None:
            problems.append(f"fatal producer error: {self._client_errors.fatal}")
        if report.failed:
            problems.append(f"{report.failed} records failed delivery, first: {'; '.join(report.failures)}")
        if undelivered:
            problems.append(f"{undelivered} records were still queued after {FLUSH_TIMEOUT_SECONDS:.0f} s")
        if report.delivered + report.failed + undelivered < report.sent:
            problems.append(f"{report.sent - report.delivered - report.failed - undelivered} records have no delivery report")
        if problems:
            raise PublishError(
                f"publishing to topic {self.kafka.topic} on {self.kafka.bootstrap_servers} lost records "
                f"({report.delivered} of {report.sent} delivered): " + "; ".join(problems)
                + ". Re-run the same load: silver drops the records that were already delivered as duplicates."
            )


def _sleep_until(deadline: float, clock: Callable[[], float]) -> None:
    remaining = deadline - clock()
    if remaining > 0:
        time.sleep(remaining)
