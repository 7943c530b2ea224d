"""Typed configuration, loaded from YAML and validated at start-up.

An environment file (``conf/local.yaml``, ``conf/cluster.yaml``, ...) names the
Kafka topic, the lake root, Spark settings and ingest limits, and points to the
meters, plans and tenants files. Relative paths in a file resolve against the
directory of that file. Every problem found is reported in one ``ConfigError``.

Values of the form ``${env:NAME}`` are read from the environment when the file is
loaded, so secrets (SASL passwords, keys) never live in the files; they are kept
out of ``repr`` and logs by ``SecretStr``.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from pipelines.errors import ConfigError
from pipelines.vocabulary import Aggregation

TENANT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
TENANT_ID_REGEX = TENANT_ID_PATTERN.pattern
METER_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
VALUE_PATH_PATTERN = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$")
DIMENSION_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
ENV_REFERENCE = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONF = PROJECT_ROOT / "conf" / "local.yaml"


class SecretStr(str):
    """A string read from the environment that never shows in reprs or logs."""

    def __repr__(self) -> str:
        return "SecretStr('**********')"


@dataclass(frozen=True)
class KafkaSettings:
    """Kafka source of the usage events: brokers, topic, offsets and client options."""

    bootstrap_servers: str
    topic: str
    partitions: int
    starting_offsets: str
    max_offsets_per_trigger: int
    options: dict[str, str] = field(default_factory=dict, repr=False)

    def spark_options(self) -> dict[str, str]:
        """Return the options for Spark's Kafka source, secrets included."""
        options = {f"kafka.{key}": str(value) for key, value in self.options.items()}
        options["kafka.bootstrap.servers"] = self.bootstrap_servers
        return options

    def client_config(self) -> dict[str, str]:
        """Return the configuration for a librdkafka client (producer, admin), names translated."""
        from pipelines.runtime.kafka_clients import librdkafka_config

        return librdkafka_config({key: str(value) for key, value in self.options.items()}, self.bootstrap_servers)


@dataclass(frozen=True)
class BrokerSettings:
    """The local single-node KRaft broker started by ``meterhouse kafka start``."""

    host: str
    port: int
    controller_port: int
    data_dir: Path
    heap: str


@dataclass(frozen=True)
class LakeSettings:
    """Storage root of the lake; every table and checkpoint path derives from it.

    ``catalog`` set (for example ``main.meterhouse``) makes tables catalog tables
    named ``<catalog>.<layer>_<table>`` with their data under ``root``.
    """

    root: str
    checkpoint_root: str
    catalog: str | None


@dataclass(frozen=True)
class SparkSettings:
    """Spark session settings used when meterhouse builds its own session."""

    master: str
    app_name: str
    shuffle_partitions: int
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestSettings:
    """Limits that silver validation applies to every event.

    Event-time limits compare the event's ``time`` with the Kafka record
    timestamp, not the wall clock, so replaying bronze later gives the same
    verdicts.
    """

    max_event_age: timedelta
    max_future_skew: timedelta
    max_quantity: Decimal
    max_event_id_length: int
    trigger_interval_seconds: int


@dataclass(frozen=True)
class Meter:
    """A meter: which events it reads, which value, and how it aggregates.

    ``value_path`` is a JSON path into the event's ``data`` object
    (``$.tokens``); COUNT meters need none. ``group_by`` lists the ``data``
    fields that become the meter's dimensions, in this order.
    """

    name: str
    event_type: str
    aggregation: Aggregation
    value_path: str | None
    group_by: tuple[str, ...]
    unit: str
    description: str = ""

    @property
    def is_numeric(self) -> bool:
        return self.aggregation in (Aggregation.SUM, Aggregation.MAX, Aggregation.LATEST)


@dataclass(frozen=True)
class Tenant:
    """A known tenant and the raw billing attributes that billing validates."""

    tenant_id: str
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration of one environment."""

    source: Path
    environment: str
    kafka: KafkaSettings
    broker: BrokerSettings
    lake: LakeSettings
    spark: SparkSettings
    ingest: IngestSettings
    meters: tuple[Meter, ...]
    tenants: dict[str, Tenant]
    plans_path: Path
    billing: dict[str, Any]
    exports_root: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def meters_for(self, event_type: str) -> list[Meter]:
        return [meter for meter in self.meters if meter.event_type == event_type]

    @property
    def event_types(self) -> list[str]:
        return sorted({meter.event_type for meter in self.meters})


def load_settings(path: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Load and validate an environment file, applying dotted-key overrides.

    ``overrides`` maps keys such as ``lake.root`` to values; they win over the
    file. Raises ``ConfigError`` listing every problem.
    """
    source = Path(path or os.environ.get("METERHOUSE_CONF") or DEFAULT_CONF).resolve()
    raw = _read_yaml(source)
    problems: list[str] = []
    for dotted_key, value in (overrides or {}).items():
        if _is_known_key(dotted_key):
            _set_dotted(raw, dotted_key, value)
        else:
            problems.append(f"--set {dotted_key}: unknown setting; valid keys are {', '.join(sorted(KNOWN_KEYS))} "
                            f"and anything below {', '.join(OPEN_SECTIONS)}")

    base = source.parent
    settings = _build_settings(source, base, raw, problems)
    if problems:
        raise ConfigError(str(source), problems)
    return settings


# Keys that --set may override. A typo must fail loudly: silently ignoring
# `lake.rot` would write to the default lake.
KNOWN_KEYS = {
    "environment",
    "kafka.bootstrap_servers", "kafka.topic", "kafka.partitions", "kafka.starting_offsets",
    "kafka.max_offsets_per_trigger",
    "broker.host", "broker.port", "broker.controller_port", "broker.data_dir", "broker.heap",
    "lake.root", "lake.checkpoint_root", "lake.catalog",
    "spark.master", "spark.app_name", "spark.shuffle_partitions",
    "ingest.max_event_age_days", "ingest.max_future_skew_seconds", "ingest.max_quantity",
    "ingest.max_event_id_length", "ingest.trigger_interval_seconds",
    "files.meters", "files.plans", "files.tenants",
}
OPEN_SECTIONS = ("kafka.options.", "spark.conf.", "billing.", "exports.", "audit.")


def _is_known_key(dotted_key: str) -> bool:
    return dotted_key in KNOWN_KEYS or dotted_key.startswith(OPEN_SECTIONS)


def _build_settings(source: Path, base: Path, raw: dict, problems: list[str]) -> Settings | None:
    kafka = _kafka_settings(raw.get("kafka", {}), problems)
    broker = _broker_settings(raw.get("broker", {}), base, problems)
    lake = _lake_settings(raw.get("lake", {}), base, problems)
    spark = _spark_settings(raw.get("spark", {}), problems)
    ingest = _ingest_settings(raw.get("ingest", {}), problems)

    files = raw.get("files", {})
    meters_path = _resolve(base, files.get("meters", "meters.yaml"))
    tenants_path = _resolve(base, files.get("tenants", "tenants.yaml"))
    plans_path = _resolve(base, files.get("plans", "plans.yaml"))
    meters = load_meters(meters_path, problems)
    tenants = load_tenants(tenants_path, problems)
    if not plans_path.exists():
        problems.append(f"files.plans: {plans_path} does not exist")

    exports_root = str(raw.get("exports", {}).get("root", "../exports"))
    if "://" not in exports_root:
        exports_root = str(_resolve(base, exports_root))
    if problems:
        return None
    return Settings(
        source=source,
        environment=str(raw.get("environment", source.stem)),
        kafka=kafka,
        broker=broker,
        lake=lake,
        spark=spark,
        ingest=ingest,
        meters=tuple(meters),
        tenants=tenants,
        plans_path=plans_path,
        billing=dict(raw.get("billing", {})),
        exports_root=exports_root,
        raw=raw,
    )


def _kafka_settings(raw: dict, problems: list[str]) -> KafkaSettings | None:
    options = {}
    for key, value in (raw.get("options") or {}).items():
        resolved = _resolve_env(f"kafka.options.{key}", value, problems)
        if resolved is not None:
            options[str(key)] = resolved
    starting = str(raw.get("starting_offsets", "earliest"))
    if starting not in ("earliest", "latest"):
        problems.append(f"kafka.starting_offsets: expected 'earliest' or 'latest', found {starting!r}")
    return KafkaSettings(
        bootstrap_servers=str(raw.get("bootstrap_servers", "127.0.0.1:9092")),
        topic=_required_str(raw, "topic", "kafka.topic", problems, default="usage-events"),
        partitions=_positive_int(raw, "partitions", "kafka.partitions", 4, problems),
        starting_offsets=starting,
        max_offsets_per_trigger=_positive_int(raw, "max_offsets_per_trigger", "kafka.max_offsets_per_trigger", 500000, problems),
        options=options,
    )


def _broker_settings(raw: dict, base: Path, problems: list[str]) -> BrokerSettings:
    host = str(raw.get("host", "127.0.0.1"))
    if host not in ("127.0.0.1", "localhost", "::1"):
        problems.append(f"broker.host: the local broker binds to loopback only, found {host!r}")
    return BrokerSettings(
        host=host,
        port=_positive_int(raw, "port", "broker.port", 9092, problems),
        controller_port=_positive_int(raw, "controller_port", "broker.controller_port", 9093, problems),
        data_dir=_resolve(base, raw.get("data_dir", "../.cache/kafka")),
        heap=str(raw.get("heap", "512m")),
    )


def _lake_settings(raw: dict, base: Path, problems: list[str]) -> LakeSettings:
    root = str(raw.get("root", "../lake"))
    if "://" not in root:
        root = str(_resolve(base, root))
    checkpoints = raw.get("checkpoint_root") or f"{root.rstrip('/')}/_checkpoints"
    if "://" not in str(checkpoints):
        checkpoints = str(_resolve(base, checkpoints))
    catalog = raw.get("catalog")
    if catalog is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", str(catalog)):
        problems.append(f"lake.catalog: expected 'catalog.schema' or 'schema', found {catalog!r}")
    return LakeSettings(root=root, checkpoint_root=str(checkpoints), catalog=catalog)


def _spark_settings(raw: dict, problems: list[str]) -> SparkSettings:
    return SparkSettings(
        master=str(raw.get("master", "local[*]")),
        app_name=str(raw.get("app_name", "meterhouse")),
        shuffle_partitions=_positive_int(raw, "shuffle_partitions", "spark.shuffle_partitions", 4, problems),
        conf={str(key): str(value) for key, value in (raw.get("conf") or {}).items()},
    )


def _ingest_settings(raw: dict, problems: list[str]) -> IngestSettings:
    max_quantity = _decimal(raw.get("max_quantity", "1000000000000"), "ingest.max_quantity", problems)
    return IngestSettings(
        max_event_age=timedelta(days=_positive_int(raw, "max_event_age_days", "ingest.max_event_age_days", 90, problems)),
        max_future_skew=timedelta(seconds=_positive_int(raw, "max_future_skew_seconds", "ingest.max_future_skew_seconds", 300, problems)),
        max_quantity=max_quantity if max_quantity is not None else Decimal(0),
        max_event_id_length=_positive_int(raw, "max_event_id_length", "ingest.max_event_id_length", 256, problems),
        trigger_interval_seconds=_positive_int(raw, "trigger_interval_seconds", "ingest.trigger_interval_seconds", 5, problems),
    )


def load_meters(path: Path, problems: list[str]) -> list[Meter]:
    """Read the meters file; append a message to ``problems`` for each defect."""
    if not path.exists():
        problems.append(f"files.meters: {path} does not exist")
        return []
    raw = _read_yaml(path)
    meters: list[Meter] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw.get("meters") or []):
        where = f"{path.name}: meters[{index}]"
        meter = _meter(entry, where, problems)
        if meter is None:
            continue
        if meter.name in seen:
            problems.append(f"{where}: meter name {meter.name!r} is defined twice")
        seen.add(meter.name)
        meters.append(meter)
    if not meters:
        problems.append(f"{path}: defines no meters")
    return meters


def _meter(entry: dict, where: str, problems: list[str]) -> Meter | None:
    name = str(entry.get("name", ""))
    if not METER_NAME_PATTERN.fullmatch(name):
        problems.append(f"{where}: name must match {METER_NAME_PATTERN.pattern}, found {name!r}")
    aggregation_name = str(entry.get("aggregation", "")).upper()
    valid = [item.value for item in Aggregation]
    if aggregation_name not in valid:
        problems.append(f"{where} ({name}): aggregation must be one of {valid}, found {aggregation_name!r}")
        return None
    aggregation = Aggregation(aggregation_name)
    value_path = entry.get("value_path")
    if aggregation is not Aggregation.COUNT and not value_path:
        problems.append(f"{where} ({name}): aggregation {aggregation_name} needs a value_path such as '$.quantity'")
    if value_path and not VALUE_PATH_PATTERN.fullmatch(str(value_path)):
        problems.append(f"{where} ({name}): value_path must look like '$.field' or '$.a.b', found {value_path!r}")
    group_by = tuple(str(item) for item in entry.get("group_by") or [])
    for dimension in group_by:
        if not DIMENSION_PATTERN.fullmatch(dimension):
            problems.append(f"{where} ({name}): dimension {dimension!r} must match {DIMENSION_PATTERN.pattern}")
    event_type = str(entry.get("event_type", ""))
    if not event_type:
        problems.append(f"{where} ({name}): event_type is missing")
    return Meter(
        name=name,
        event_type=event_type,
        aggregation=aggregation,
        value_path=str(value_path) if value_path else None,
        group_by=group_by,
        unit=str(entry.get("unit", "unit")),
        description=str(entry.get("description", "")),
    )


def load_tenants(path: Path, problems: list[str]) -> dict[str, Tenant]:
    """Read the tenant registry: inline tenants plus CSV tenant lists.

    Each tenant's attributes are the file's ``defaults`` overlaid with its own
    fields; billing validates the subscription fields among them.
    """
    if not path.exists():
        problems.append(f"files.tenants: {path} does not exist")
        return {}
    raw = _read_yaml(path)
    defaults = dict(raw.get("defaults") or {})
    tenants: dict[str, Tenant] = {}
    for index, entry in enumerate(raw.get("tenants") or []):
        _add_tenant(tenants, dict(entry), defaults, f"{path.name}: tenants[{index}]", problems)
    for list_path in raw.get("files") or []:
        csv_path = _resolve(path.parent, list_path)
        if not csv_path.exists():
            problems.append(f"{path.name}: tenant list {csv_path} does not exist")
            continue
        with csv_path.open(newline="", encoding="utf-8") as handle:
            for line_number, row in enumerate(csv.DictReader(handle), start=2):
                entry = {key: value for key, value in row.items() if value not in (None, "")}
                entry["id"] = entry.pop("tenant_id", "")
                _add_tenant(tenants, entry, defaults, f"{csv_path.name}:{line_number}", problems)
    return tenants


def _add_tenant(tenants: dict[str, Tenant], entry: dict, defaults: dict, where: str, problems: list[str]) -> None:
    tenant_id = str(entry.pop("id", ""))
    if not TENANT_ID_PATTERN.fullmatch(tenant_id):
        problems.append(f"{where}: tenant id must match {TENANT_ID_REGEX}, found {tenant_id!r}")
        return
    if tenant_id in tenants:
        problems.append(f"{where}: tenant {tenant_id!r} is defined twice")
        return
    attributes = {**defaults, **entry}
    tenants[tenant_id] = Tenant(tenant_id=tenant_id, name=str(attributes.pop("name", tenant_id)), attributes=attributes)


def _read_yaml(path: Path) -> dict:
    try:
        with path.open(encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found; pass --conf with an existing file"]) from None
    except yaml.YAMLError as error:
        raise ConfigError(str(path), [f"not valid YAML: {error}"]) from None
    if not isinstance(loaded, dict):
        raise ConfigError(str(path), [f"expected a mapping at the top level, found {type(loaded).__name__}"])
    return loaded


def _resolve(base: Path, value: str | os.PathLike) -> Path:
    candidate = Path(value)
    return candidate if candidate.is_absolute() else (base / candidate).resolve()


def _resolve_env(where: str, value: Any, problems: list[str]) -> str | None:
    match = ENV_REFERENCE.match(str(value))
    if not match:
        return str(value)
    name = match.group(1)
    if name not in os.environ:
        problems.append(f"{where}: environment variable {name} is not set")
        return None
    return SecretStr(os.environ[name])


def _set_dotted(raw: dict, dotted_key: str, value: Any) -> None:
    *parents, leaf = dotted_key.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _positive_int(raw: dict, key: str, where: str, default: int, problems: list[str]) -> int:
    value = raw.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        problems.append(f"{where}: expected a positive integer, found {value!r}")
        return default
    if number <= 0:
        problems.append(f"{where}: expected a positive integer, found {number}")
    return number


def _required_str(raw: dict, key: str, where: str, problems: list[str], default: str) -> str:
    value = str(raw.get(key, default))
    if not value:
        problems.append(f"{where}: must not be empty")
    return value


def _decimal(value: Any, where: str, problems: list[str]) -> Decimal | None:
    if isinstance(value, float):
        problems.append(f"{where}: write decimals as strings to keep them exact, found float {value!r}")
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        problems.append(f"{where}: expected a decimal string, found {value!r}")
        return None
    if not number.is_finite() or number <= 0:
        problems.append(f"{where}: expected a positive finite decimal, found {value!r}")
        return None
    return number
