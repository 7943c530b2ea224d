"""A local single-node Apache Kafka broker in KRaft mode.

The broker runs from Apache Kafka's jars (Maven Central, cached by
``pipelines.runtime.jars``) in a background Java process bound to loopback. Its
data, configuration, log file and PID file live under ``broker.data_dir``; the
cluster id is generated once and kept there, so a restart keeps the topics and
their offsets.

This broker is for laptops, tests and CI: one node, replication factor 1, no
authentication. Clusters use the user's brokers.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import BrokerSettings, KafkaSettings
from pipelines.errors import BrokerError
from pipelines.runtime.jars import kafka_broker_classpath

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class BrokerStatus:
    """State of the local broker: its process id and whether its port accepts connections."""

    pid: int | None
    is_answering: bool
    bootstrap_servers: str

    def describe(self) -> str:
        if self.is_answering:
            return f"running: pid {self.pid}, answering on {self.bootstrap_servers}"
        if self.pid:
            return f"process {self.pid} exists but {self.bootstrap_servers} does not answer"
        return f"not running: nothing answers on {self.bootstrap_servers}"


class LocalBroker:
    """Start, stop and probe the local KRaft broker described by ``settings``."""

    def __init__(self, settings: BrokerSettings):
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.pid_file = self.data_dir / "broker.pid"
        self.log_file = self.data_dir / "broker.log"
        self.properties_file = self.data_dir / "server.properties"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def status(self) -> BrokerStatus:
        pid = self._running_pid()
        return BrokerStatus(pid=pid, is_answering=self._is_port_open(), bootstrap_servers=self.bootstrap_servers)

    def start(self) -> BrokerStatus:
        """Start the broker unless it already runs, then wait until it accepts connections.

        Idempotent: a running broker is left alone. Raises ``BrokerError`` when
        the port is taken by another process or the broker does not come up.
        """
        current = self.status()
        if current.is_answering and current.pid:
            log.info("local Kafka broker already %s", current.describe())
            return current
        if current.is_answering:
            raise BrokerError(
                f"port {self.settings.port} on {self.settings.host} is taken by a process that meterhouse did not start; "
                "stop it or set broker.port and kafka.bootstrap_servers to a free port"
            )

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_properties()
        self._format_storage_once()
        process = self._launch()
        self._wait_until_answering(process)
        status = self.status()
        log.info("local Kafka broker started: %s", status.describe())
        return status

    def stop(self) -> BrokerStatus:
        """Stop the broker with SIGTERM (SIGKILL after a timeout); idempotent."""
        pid = self._running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return self.status()
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and _is_alive(pid):
            time.sleep(0.2)
        if _is_alive(pid):
            log.warning("broker pid %s did not stop within %ss; sending SIGKILL", pid, STOP_TIMEOUT_SECONDS)
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return self.status()

    def _write_properties(self) -> None:
        host = self.settings.host
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{host}:{self.settings.controller_port}",
            "listeners": f"PLAINTEXT://{host}:{self.settings.port},CONTROLLER://{host}:{self.settings.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{host}:{self.settings.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "num.partitions": "4",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Topics are created explicitly with their partition count.
            "auto.create.topics.enable": "false",
            # Keep usage for a week by default, as a production topic would.
            "log.retention.hours": "168",
        }
        text = "".join(f"{key}={value}\n" for key, value in lines.items())
        self.properties_file.write_text(text)
        (self.data_dir / "log4j2.properties").write_text(_LOG4J2_PROPERTIES.replace("@LOG@", str(self.log_file)))

    def _format_storage_once(self) -> None:
        if (self.data_dir / "logs" / "meta.properties").exists():
            return
        cluster_id_file = self.data_dir / "cluster.id"
        if not cluster_id_file.exists():
            cluster_id_file.write_text(_new_cluster_id())
        command = self._java("kafka.tools.StorageTool", "format", "-t", cluster_id_file.read_text().strip(),
                             "-c", str(self.properties_file), "--ignore-formatted")
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BrokerError(f"formatting the broker storage in {self.data_dir} failed:\n{result.stdout}{result.stderr}")

    def _launch(self) -> subprocess.Popen:
        command = self._java("kafka.Kafka", str(self.properties_file))
        with self.log_file.open("ab") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_file.write_text(str(process.pid))
        return process

    def _wait_until_answering(self, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BrokerError(f"the broker exited with code {process.returncode}; see {self.log_file}")
            if self._is_port_open() and self._has_metadata():
                return
            time.sleep(0.5)
        raise BrokerError(f"the broker did not respond on {self.bootstrap_servers} within {START_TIMEOUT_SECONDS}s; see {self.log_file}")

    def _has_metadata(self) -> bool:
        from confluent_kafka.admin import AdminClient

        try:
            AdminClient({"bootstrap.servers": self.bootstrap_servers}).list_topics(timeout=2)
        except Exception:  # noqa: BLE001 - any client error means "not ready yet"
            return False
        return True

    def _java(self, main_class: str, *arguments: str) -> list[str]:
        return [
            "java",
            f"-Xmx{self.settings.heap}",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            "-cp", kafka_broker_classpath(),
            main_class,
            *arguments,
        ]

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _is_alive(pid) else None

    def _is_port_open(self) -> bool:
        try:
            with socket.create_connection((self.settings.host, self.settings.port), timeout=1):
                return True
        except OSError:
            return False


def ensure_topic(kafka: KafkaSettings) -> None:
    """Create the usage topic with its configured partition count if missing."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(kafka.client_config())
    if kafka.topic in admin.list_topics(timeout=10).topics:
        return
    # The broker stamps each record on arrival (LogAppendTime): silver measures
    # event age from the Kafka timestamp, which a producer could otherwise forge.
    topic = NewTopic(kafka.topic, num_partitions=kafka.partitions, replication_factor=1,
                     config={"message.timestamp.type": "LogAppendTime"})
    futures = admin.create_topics([topic])
    try:
        futures[kafka.topic].result(timeout=30)
    except Exception as error:  # noqa: BLE001 - report the broker's reason
        if "TOPIC_ALREADY_EXISTS" not in str(error):
            raise BrokerError(f"could not create topic {kafka.topic!r} on {kafka.bootstrap_servers}: {error}") from error
    log.info("created topic %s with %d partitions", kafka.topic, kafka.partitions)


def check_topic(kafka: KafkaSettings, timeout_seconds: float = 10.0) -> None:
    """Raise BrokerError unless Kafka responds at the configured address and has the usage topic.

    Spark's Kafka source meets the same problems only after minutes of
    retries and reports them without the address or the topic.
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(kafka.client_config())
    try:
        topics = admin.list_topics(timeout=timeout_seconds).topics
    except KafkaException as error:
        raise BrokerError(f"Kafka at {kafka.bootstrap_servers} did not respond within {timeout_seconds:g} s ({error}); "
                          "start the local broker with `meterhouse kafka start`, "
                          "or set kafka.bootstrap_servers to a running broker") from error
    if kafka.topic not in topics:
        raise BrokerError(f"topic {kafka.topic!r} not found on {kafka.bootstrap_servers}; "
                          "`meterhouse kafka start` creates it on the local broker, "
                          "or set kafka.topic to an existing topic")


def _new_cluster_id() -> str:
    """Return a random cluster id: 16 random bytes in URL-safe base64 without padding.

    One id in 64 starts with "-", and the storage tool then reads it as an
    option and fails with "expected one argument", so such an id is drawn again.
    """
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A zombie child still has a PID; treat it as gone.
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


_LOG4J2_PROPERTIES = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = @LOG@
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""
