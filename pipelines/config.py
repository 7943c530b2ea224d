"""Typed configuration, loaded from YAML and validated at start-up.

An environment file (``conf/local.yaml``, ``conf/cluster.yaml``, ...) names the
Kafka topic, the lake root, Spark settings and ingest limits, and points to the
meters, plans and tenants files. Relative paths in a file resolve against the
directory of that file. Every problem found is reported in one ``ConfigError``.

A ``kafka.options`` value of the form ``${env:NAME}`` is read from the
environment when the file is loaded, so secrets (SASL passwords, keys) never
live in the files, and ``SecretStr`` keeps them out of ``repr`` and logs. No
other value may contain ``${``.

The YAML files are parsed strictly (``pipelines.yaml_files``): a repeated key
is an error, and a name or id that YAML read as a number, boolean or null
(``0777``, ``yes``, ``null``) is rejected instead of converted back to text.
"""

from __future__ import annotations

import csv
import io
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
from pipelines.yaml_files import (describe, expect_list, expect_mapping, load_yaml, report_unknown_keys,
                                  yaml_type_name)

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
    # The silver stream compacts its tables every this many batches; 0 never.
    compact_every_batches: int = 5


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
    if not source.exists():
        raise ConfigError(str(source), ["file not found; pass --conf with an existing file"])
    problems: list[str] = []
    raw = _read_yaml(source, problems)
    if raw is None:
        raise ConfigError(str(source), problems)
    for dotted_key, value in (overrides or {}).items():
        _apply_override(raw, dotted_key, value, problems)

    base = source.parent
    settings = _build_settings(source, base, raw, problems)
    if problems:
        raise ConfigError(str(source), problems)
    return settings


# The keys of each section of an environment file. An unknown key is reported,
# because silently ignoring a misspelt `lake.rot` would write to the default lake.
SECTION_KEYS = {
    "kafka": ("bootstrap_servers", "topic", "partitions", "starting_offsets", "max_offsets_per_trigger", "options"),
    "broker": ("host", "port", "controller_port", "data_dir", "heap"),
    "lake": ("root", "checkpoint_root", "catalog"),
    "spark": ("master", "app_name", "shuffle_partitions", "conf"),
    "ingest": ("max_event_age_days", "max_future_skew_seconds", "max_quantity", "max_event_id_length",
               "trigger_interval_seconds", "compact_every_batches"),
    "files": ("meters", "plans", "tenants"),
}
# billing, exports and audit are read by the modules that use them, so their keys are not listed here.
TOP_LEVEL_KEYS = ("environment", *SECTION_KEYS, "billing", "exports", "audit")
METER_KEYS = ("name", "event_type", "aggregation", "value_path", "group_by", "unit", "description")
METERS_FILE_KEYS = ("meters",)
TENANTS_FILE_KEYS = ("defaults", "tenants", "files")

# Keys that --set may override. A typo must fail loudly: silently ignoring
# `lake.rot` would write to the default lake.
KNOWN_KEYS = {"environment"} | {
    f"{section}.{key}" for section, keys in SECTION_KEYS.items() for key in keys if key not in ("options", "conf")
}
OPEN_SECTIONS = ("kafka.options.", "spark.conf.", "billing.", "exports.", "audit.")
# Target of a --set key below an open section: the rest of the key becomes ONE
# key of the mapping at the given path. Kafka and Spark property names and audit table
# names (gold.invoices) contain dots themselves, so the rest is never split.
# When several prefixes match, `_override_path` takes the longest one.
OVERRIDE_TARGETS = {
    "kafka.options.": ("kafka", "options"),
    "spark.conf.": ("spark", "conf"),
    "audit.layer_window_days.": ("audit", "layer_window_days"),
    "billing.": ("billing",),
    "exports.": ("exports",),
    "audit.": ("audit",),
}

# Maximums of the whole-number settings. JVM_INT_MAX is Java's Integer.MAX_VALUE,
# the maximum of the int settings of Spark and Kafka (partitions, lengths).
JVM_INT_MAX = 2**31 - 1
PORT_MAX = 65535
# NOTE: the next three are chosen bounds, not limits of Spark or Kafka. They
# catch a typo such as a value in seconds given for days, and keep timedelta in range.
MAX_EVENT_AGE_DAYS = 3650  # ten years
MAX_FUTURE_SKEW_SECONDS = 86400  # one day
MAX_TRIGGER_INTERVAL_SECONDS = 86400  # one day
MAX_COMPACT_EVERY_BATCHES = 1_000_000
QUOTE_HINT = ("quote the value, because YAML reads unquoted values such as 0777, 0x1F, 1:30, yes and null "
              "as numbers, booleans or null")
ENV_REFERENCE_HINT = ("write the whole value as one ${env:NAME} reference, where NAME is letters, digits and "
                      "underscores and 'env' is lower case")


def _is_known_key(dotted_key: str) -> bool:
    return dotted_key in KNOWN_KEYS or dotted_key.startswith(OPEN_SECTIONS)


def _apply_override(raw: dict, dotted_key: str, value: Any, problems: list[str]) -> None:
    """Set one ``--set`` override in the parsed environment file, or report why it cannot be set."""
    if not _is_known_key(dotted_key):
        problems.append(f"--set {dotted_key}: unknown setting; valid keys are {', '.join(sorted(KNOWN_KEYS))} "
                        f"and anything below {', '.join(OPEN_SECTIONS)}")
        return
    if "" in dotted_key.split("."):
        problems.append(f"--set {dotted_key}: empty key part between dots; write the key without empty parts, "
                        "for example billing.issuer")
        return
    path = _override_path(dotted_key)
    node = raw
    for depth, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            parent = ".".join(path[:depth + 1])
            problems.append(f"--set {dotted_key}: cannot set it because {parent} in the file is not a mapping "
                            f"(found {yaml_type_name(child)}); fix {parent} in the file")
            return
        node = child
    node[path[-1]] = value


def _override_path(dotted_key: str) -> tuple[str, ...]:
    if dotted_key in KNOWN_KEYS:
        return tuple(dotted_key.split("."))
    prefix = max((prefix for prefix in OVERRIDE_TARGETS if dotted_key.startswith(prefix)), key=len)
    return (*OVERRIDE_TARGETS[prefix], dotted_key[len(prefix):])


def _build_settings(source: Path, base: Path, raw: dict, problems: list[str]) -> Settings | None:
    report_unknown_keys(raw, TOP_LEVEL_KEYS, "the environment file", problems)
    _reject_references_outside_kafka_options(raw, (), problems, set())
    environment = _string(raw, "environment", "environment", problems, default=source.stem)
    kafka = _kafka_settings(_section(raw, "kafka", problems), problems)
    broker = _broker_settings(_section(raw, "broker", problems), base, problems)
    lake = _lake_settings(_section(raw, "lake", problems), base, problems)
    spark = _spark_settings(_section(raw, "spark", problems), problems)
    ingest = _ingest_settings(_section(raw, "ingest", problems), problems)

    files = _section(raw, "files", problems)
    report_unknown_keys(files, SECTION_KEYS["files"], "files", problems)
    meters_path = _file_path(files, "meters", base, problems)
    tenants_path = _file_path(files, "tenants", base, problems)
    plans_path = _file_path(files, "plans", base, problems)
    meters = load_meters(meters_path, problems) if meters_path else []
    tenants = load_tenants(tenants_path, problems) if tenants_path else {}
    if plans_path and not plans_path.exists():
        problems.append(f"files.plans: {plans_path} does not exist")
    elif plans_path and not plans_path.is_file():
        problems.append(f"files.plans: {plans_path} is not a file; name the plans YAML file")

    billing = _section(raw, "billing", problems)
    exports = _section(raw, "exports", problems)
    exports_root = _storage_root(exports, "root", "exports.root", "../exports", base, problems)
    if exports_root and exports_root.rstrip("/") == lake.root.rstrip("/"):
        problems.append(f"exports.root: must differ from lake.root, both are {exports_root}; "
                        "write exports to their own folder")
    audit = _section(raw, "audit", problems)
    if "layer_window_days" in audit:
        expect_mapping(audit["layer_window_days"], "audit.layer_window_days", problems, allow_null=True)
    if problems:
        return None
    return Settings(
        source=source,
        environment=environment,
        kafka=kafka,
        broker=broker,
        lake=lake,
        spark=spark,
        ingest=ingest,
        meters=tuple(meters),
        tenants=tenants,
        plans_path=plans_path,
        billing=dict(billing),
        exports_root=exports_root,
        raw=raw,
    )


def _section(raw: dict, name: str, problems: list[str]) -> dict:
    """Return the section ``name`` of a parsed file, which is empty when missing and reported when not a mapping."""
    if name not in raw:
        return {}
    return expect_mapping(raw[name], name, problems)


def _file_path(files: dict, key: str, base: Path, problems: list[str]) -> Path | None:
    value = _string(files, key, f"files.{key}", problems, default=f"{key}.yaml")
    return _resolve(base, value) if value else None


def _named_entries(section: Any, where: str, noun: str, problems: list[str]):
    """Yield the (name, value) pairs of an optional mapping whose names must be strings."""
    for key, value in expect_mapping(section, where, problems, allow_null=True).items():
        if not isinstance(key, str):
            problems.append(f"{where}: {noun} names must be strings, found {describe(key)}; {QUOTE_HINT}")
            continue
        yield key, value


def _kafka_settings(raw: dict, problems: list[str]) -> KafkaSettings:
    report_unknown_keys(raw, SECTION_KEYS["kafka"], "kafka", problems)
    options = {}
    for key, value in _named_entries(raw.get("options"), "kafka.options", "option", problems):
        resolved = _kafka_option_value(f"kafka.options.{key}", value, problems)
        if resolved is not None:
            options[key] = resolved
    starting = _string(raw, "starting_offsets", "kafka.starting_offsets", problems, default="earliest")
    if starting and starting not in ("earliest", "latest"):
        problems.append(f"kafka.starting_offsets: expected 'earliest' or 'latest', found {starting!r}")
    return KafkaSettings(
        bootstrap_servers=_string(raw, "bootstrap_servers", "kafka.bootstrap_servers", problems,
                                  default="127.0.0.1:9092"),
        topic=_string(raw, "topic", "kafka.topic", problems, default="usage-events"),
        partitions=_positive_int(raw, "partitions", "kafka.partitions", 4, JVM_INT_MAX, problems),
        starting_offsets=starting,
        max_offsets_per_trigger=_positive_int(raw, "max_offsets_per_trigger", "kafka.max_offsets_per_trigger", 500000,
                                              JVM_INT_MAX, problems),
        options=options,
    )


def _kafka_option_value(where: str, value: Any, problems: list[str]) -> str | None:
    """Return a Kafka client property value as text, reading a ``${env:NAME}`` reference from the environment.

    The value is never put in a message, because a misspelt reference may sit
    next to a secret written inline.
    """
    if not isinstance(value, str):
        return _scalar_text(where, value, problems)
    if "${" not in value:
        return value
    match = ENV_REFERENCE.fullmatch(value)
    if not match:
        problems.append(f"{where}: contains '${{' but is not one whole ${{env:NAME}} reference; {ENV_REFERENCE_HINT}")
        return None
    name = match.group(1)
    if name not in os.environ:
        problems.append(f"{where}: environment variable {name} is not set")
        return None
    if not os.environ[name].strip():
        problems.append(f"{where}: environment variable {name} is set but empty; set it to the value of {where}")
        return None
    return SecretStr(os.environ[name])


def _scalar_text(where: str, value: Any, problems: list[str]) -> str | None:
    """Return a property value (Kafka option, Spark setting) as the text its client expects."""
    if isinstance(value, bool):
        return "true" if value else "false"  # str(True) is 'True'
    if isinstance(value, (str, int, float)):
        return str(value)
    problems.append(f"{where}: expected a string, number or boolean, found {yaml_type_name(value)}")
    return None


def _reject_references_outside_kafka_options(node: Any, path: tuple, problems: list[str], seen: set[int]) -> None:
    """Report every string containing ``${`` outside ``kafka.options``, where no reference is resolved.

    ``seen`` contains the ids of visited lists and mappings, because YAML anchors
    can make a node contain itself.
    """
    if path[:2] == ("kafka", "options"):
        return
    if isinstance(node, (dict, list)):
        if id(node) in seen:
            return
        seen.add(id(node))
        children = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in children:
            _reject_references_outside_kafka_options(child, (*path, key), problems, seen)
    elif isinstance(node, str) and "${" in node:
        problems.append(f"{_dotted(path)}: contains '${{', but ${{env:NAME}} references are only resolved as the "
                        "whole value of a kafka.options entry; write this value literally")


def _dotted(path: tuple) -> str:
    """Format a key path as in messages: ``spark.conf.spark.x`` or ``files[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text


def _broker_settings(raw: dict, base: Path, problems: list[str]) -> BrokerSettings:
    report_unknown_keys(raw, SECTION_KEYS["broker"], "broker", problems)
    host = _string(raw, "host", "broker.host", problems, default="127.0.0.1")
    if host and host not in ("127.0.0.1", "localhost", "::1"):
        problems.append(f"broker.host: the local broker binds to loopback only, found {host!r}")
    problems_before = len(problems)
    port = _positive_int(raw, "port", "broker.port", 9092, PORT_MAX, problems)
    controller_port = _positive_int(raw, "controller_port", "broker.controller_port", 9093, PORT_MAX, problems)
    if port == controller_port and len(problems) == problems_before:
        problems.append(f"broker.controller_port: must differ from broker.port, both are {port}; "
                        "give the controller its own port")
    data_dir = _string(raw, "data_dir", "broker.data_dir", problems, default="../.cache/kafka")
    return BrokerSettings(
        host=host,
        port=port,
        controller_port=controller_port,
        data_dir=_resolve(base, data_dir or "."),
        heap=_string(raw, "heap", "broker.heap", problems, default="512m"),
    )


def _lake_settings(raw: dict, base: Path, problems: list[str]) -> LakeSettings:
    report_unknown_keys(raw, SECTION_KEYS["lake"], "lake", problems)
    root = _storage_root(raw, "root", "lake.root", "../lake", base, problems)
    if raw.get("checkpoint_root") in (None, ""):
        checkpoints = f"{root.rstrip('/')}/_checkpoints"
    else:
        checkpoints = _storage_root(raw, "checkpoint_root", "lake.checkpoint_root", "", base, problems)
    catalog = raw.get("catalog")
    if catalog is not None and not (isinstance(catalog, str)
                                    and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", catalog)):
        problems.append(f"lake.catalog: expected 'catalog.schema' or 'schema', found {describe(catalog)}")
    return LakeSettings(root=root, checkpoint_root=checkpoints, catalog=catalog)


def _storage_root(raw: dict, key: str, where: str, default: str, base: Path, problems: list[str]) -> str:
    """Return a folder path or URI setting. A relative path resolves against ``base``.

    Returns "" after reporting an empty, null or non-string value, which would
    otherwise resolve to ``base`` itself (the conf folder).
    """
    value = raw.get(key, default)
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        problems.append(f"{where}: expected a folder path or URI such as s3a://bucket/prefix, found {describe(value)}")
        return ""
    if "://" in value:
        return value
    return str(_resolve(base, value))


def _spark_settings(raw: dict, problems: list[str]) -> SparkSettings:
    report_unknown_keys(raw, SECTION_KEYS["spark"], "spark", problems)
    conf = {}
    for key, value in _named_entries(raw.get("conf"), "spark.conf", "setting", problems):
        text = _scalar_text(f"spark.conf.{key}", value, problems)
        if key == "spark.sql.session.timeZone" and text is not None and text != "UTC":
            # Hour and day windows are cut in the session time zone; storage and billing assume UTC.
            problems.append(f"spark.conf.{key}: meterhouse runs its sessions in UTC, found {text!r}; remove the setting")
            continue
        if text is not None:
            conf[key] = text
    return SparkSettings(
        master=_string(raw, "master", "spark.master", problems, default="local[*]"),
        app_name=_string(raw, "app_name", "spark.app_name", problems, default="meterhouse"),
        shuffle_partitions=_positive_int(raw, "shuffle_partitions", "spark.shuffle_partitions", 4, JVM_INT_MAX,
                                         problems),
        conf=conf,
    )


def _ingest_settings(raw: dict, problems: list[str]) -> IngestSettings:
    report_unknown_keys(raw, SECTION_KEYS["ingest"], "ingest", problems)
    max_quantity = _decimal(raw.get("max_quantity", "1000000000000"), "ingest.max_quantity", problems)
    max_age_days = _positive_int(raw, "max_event_age_days", "ingest.max_event_age_days", 90, MAX_EVENT_AGE_DAYS,
                                 problems)
    max_skew_seconds = _positive_int(raw, "max_future_skew_seconds", "ingest.max_future_skew_seconds", 300,
                                     MAX_FUTURE_SKEW_SECONDS, problems)
    return IngestSettings(
        max_event_age=timedelta(days=max_age_days),
        max_future_skew=timedelta(seconds=max_skew_seconds),
        max_quantity=max_quantity if max_quantity is not None else Decimal(0),
        max_event_id_length=_positive_int(raw, "max_event_id_length", "ingest.max_event_id_length", 256, JVM_INT_MAX,
                                          problems),
        trigger_interval_seconds=_positive_int(raw, "trigger_interval_seconds", "ingest.trigger_interval_seconds", 5,
                                               MAX_TRIGGER_INTERVAL_SECONDS, problems),
        compact_every_batches=_whole_number(raw, "compact_every_batches", "ingest.compact_every_batches", 5,
                                            MAX_COMPACT_EVERY_BATCHES, problems),
    )


def load_meters(path: Path, problems: list[str]) -> list[Meter]:
    """Read the meters file; append a message to ``problems`` for each defect."""
    if not path.exists():
        problems.append(f"files.meters: {path} does not exist")
        return []
    raw = _read_yaml(path, problems)
    if raw is None:
        return []
    report_unknown_keys(raw, METERS_FILE_KEYS, path.name, problems)
    meters: list[Meter] = []
    seen: set[str] = set()
    for index, entry in enumerate(expect_list(raw.get("meters"), f"{path.name}: meters", problems, allow_null=True)):
        where = f"{path.name}: meters[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping, found {yaml_type_name(entry)}")
            continue
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
    report_unknown_keys(entry, METER_KEYS, where, problems)
    name = _string(entry, "name", f"{where}: name", problems)
    if name and not METER_NAME_PATTERN.fullmatch(name):
        problems.append(f"{where}: name must match {METER_NAME_PATTERN.pattern}, found {name!r}")
    label = f"{where} ({name})"
    aggregation_name = _string(entry, "aggregation", f"{label}: aggregation", problems).upper()
    valid = [item.value for item in Aggregation]
    if aggregation_name not in valid:
        if aggregation_name:
            problems.append(f"{label}: aggregation must be one of {valid}, found {aggregation_name!r}")
        return None
    aggregation = Aggregation(aggregation_name)
    value_path = entry.get("value_path")
    if value_path is not None and not isinstance(value_path, str):
        problems.append(f"{label}: value_path must look like '$.field' or '$.a.b', found {describe(value_path)}")
        value_path = None
    if aggregation is not Aggregation.COUNT and not value_path:
        problems.append(f"{label}: aggregation {aggregation_name} needs a value_path such as '$.quantity'")
    if value_path and not VALUE_PATH_PATTERN.fullmatch(value_path):
        problems.append(f"{label}: value_path must look like '$.field' or '$.a.b', found {value_path!r}")
    event_type = _string(entry, "event_type", f"{label}: event_type", problems)
    return Meter(
        name=name,
        event_type=event_type,
        aggregation=aggregation,
        value_path=value_path or None,
        group_by=_dimensions(entry.get("group_by"), label, problems),
        unit=_string(entry, "unit", f"{label}: unit", problems, default="unit"),
        description=_string(entry, "description", f"{label}: description", problems, default="", allow_empty=True),
    )


def _dimensions(value: Any, label: str, problems: list[str]) -> tuple[str, ...]:
    """Return a meter's ``group_by`` list as dimension names: distinct strings that match DIMENSION_PATTERN."""
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{label}: group_by must be a list of data fields such as [region], "
                        f"found {describe(value)}")
        return ()
    dimensions: list[str] = []
    for index, dimension in enumerate(value):
        if not isinstance(dimension, str):
            problems.append(f"{label}: group_by[{index}]: expected a string, found {describe(dimension)}; {QUOTE_HINT}")
        elif not DIMENSION_PATTERN.fullmatch(dimension):
            problems.append(f"{label}: dimension {dimension!r} must match {DIMENSION_PATTERN.pattern}")
        elif dimension in dimensions:
            problems.append(f"{label}: dimension {dimension!r} is listed twice in group_by; list each field once")
        else:
            dimensions.append(dimension)
    return tuple(dimensions)


def load_tenants(path: Path, problems: list[str]) -> dict[str, Tenant]:
    """Read the tenant registry: inline tenants plus CSV tenant lists.

    Each tenant's attributes are the file's ``defaults`` overlaid with its own
    fields; billing validates the subscription fields among them.
    """
    if not path.exists():
        problems.append(f"files.tenants: {path} does not exist")
        return {}
    raw = _read_yaml(path, problems)
    if raw is None:
        return {}
    report_unknown_keys(raw, TENANTS_FILE_KEYS, path.name, problems)
    defaults = expect_mapping(raw.get("defaults"), f"{path.name}: defaults", problems, allow_null=True)
    tenants: dict[str, Tenant] = {}
    for index, entry in enumerate(expect_list(raw.get("tenants"), f"{path.name}: tenants", problems, allow_null=True)):
        where = f"{path.name}: tenants[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping with id and name, found {yaml_type_name(entry)}")
            continue
        _add_tenant(tenants, dict(entry), defaults, where, problems)
    for index, list_path in enumerate(expect_list(raw.get("files"), f"{path.name}: files", problems, allow_null=True)):
        if not isinstance(list_path, str) or not list_path.strip() or "\x00" in list_path:
            problems.append(f"{path.name}: files[{index}]: expected the path of a CSV file, "
                            f"found {describe(list_path)}")
            continue
        _read_tenant_list(_resolve(path.parent, list_path), path.name, tenants, defaults, problems)
    return tenants


def _read_tenant_list(csv_path: Path, listed_in: str, tenants: dict[str, Tenant], defaults: dict,
                      problems: list[str]) -> None:
    """Add the tenants of one CSV tenant list (header ``tenant_id,name,...``) to ``tenants``."""
    if not csv_path.exists():
        problems.append(f"{listed_in}: tenant list {csv_path} does not exist")
        return
    if not csv_path.is_file():
        problems.append(f"{listed_in}: tenant list {csv_path} is not a file; list CSV files, not folders")
        return
    try:
        content = csv_path.read_bytes()
    except OSError as error:
        problems.append(f"{listed_in}: cannot read tenant list {csv_path}: {error.strerror}")
        return
    try:
        # utf-8-sig drops the byte order mark that spreadsheet programs write,
        # which would otherwise become part of the first column name.
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        problems.append(f"{csv_path.name}:{line}: byte 0x{content[error.start]:02x} is not valid UTF-8; "
                        "save the tenant list as UTF-8")
        return

    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        columns = reader.fieldnames
        if not columns:
            problems.append(f"{csv_path.name}: the file is empty; expected a header line such as tenant_id,name,plan")
            return
        if "tenant_id" not in columns:
            problems.append(f"{csv_path.name}:1: the header has no tenant_id column, found {columns}; "
                            "the first line must name the columns, such as tenant_id,name,plan")
            return
        repeated = sorted({column for column in columns if columns.count(column) > 1})
        if repeated:
            problems.append(f"{csv_path.name}:1: the header repeats the columns {repeated}; name each column once")
            return
        for row in reader:
            where = f"{csv_path.name}:{reader.line_num}"
            if None in row:
                problems.append(f"{where}: {len(row[None])} more fields than the {len(columns)} header columns; "
                                "quote values that contain commas")
                continue
            entry = {key: value for key, value in row.items() if value not in (None, "")}
            entry["id"] = entry.pop("tenant_id", "")
            _add_tenant(tenants, entry, defaults, where, problems)
    except csv.Error as error:
        problems.append(f"{csv_path.name}:{reader.line_num}: invalid CSV: {error}")


def _add_tenant(tenants: dict[str, Tenant], entry: dict, defaults: dict, where: str, problems: list[str]) -> None:
    tenant_id = entry.pop("id", "")
    if not isinstance(tenant_id, str):
        problems.append(f"{where}: tenant id: expected a string, found {describe(tenant_id)}; {QUOTE_HINT}")
        return
    if not TENANT_ID_PATTERN.fullmatch(tenant_id):
        problems.append(f"{where}: tenant id must match {TENANT_ID_REGEX}, found {tenant_id!r}")
        return
    if tenant_id in tenants:
        problems.append(f"{where}: tenant {tenant_id!r} is defined twice")
        return
    attributes = {**defaults, **entry}
    name = attributes.pop("name", tenant_id)
    if not isinstance(name, str):
        problems.append(f"{where} ({tenant_id}): name: expected a string, found {describe(name)}; {QUOTE_HINT}")
        return
    tenants[tenant_id] = Tenant(tenant_id=tenant_id, name=name, attributes=attributes)


def _read_yaml(path: Path, problems: list[str]) -> dict | None:
    """Parse a YAML file whose top level is a mapping, or report the failure to ``problems`` and return None."""
    try:
        with path.open("rb") as handle:
            loaded = load_yaml(handle)
    except FileNotFoundError:
        problems.append(f"{path}: file not found")
        return None
    except IsADirectoryError:
        problems.append(f"{path}: is a folder; name a YAML file")
        return None
    except OSError as error:
        problems.append(f"{path}: cannot read the file: {error.strerror}")
        return None
    except yaml.YAMLError as error:
        problems.append(f"{path}: not valid YAML: {error}")
        return None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        problems.append(f"{path}: expected a mapping at the top level, found {yaml_type_name(loaded)}")
        return None
    return loaded


def _resolve(base: Path, value: str | os.PathLike) -> Path:
    candidate = Path(value)
    return candidate if candidate.is_absolute() else (base / candidate).resolve()


def _positive_int(raw: dict, key: str, where: str, default: int, maximum: int, problems: list[str]) -> int:
    """Return a whole-number setting from 1 to ``maximum``: a YAML integer or a string of digits (from --set).

    Booleans, floats and strings such as '2.7' or '1e3' are rejected rather than
    rounded, so a typo cannot silently change a limit.
    """
    return _whole_number(raw, key, where, default, maximum, problems, minimum=1)


def _whole_number(raw: dict, key: str, where: str, default: int, maximum: int, problems: list[str],
                  minimum: int = 0) -> int:
    """Return a whole-number setting from ``minimum`` to ``maximum`` (see ``_positive_int``)."""
    value = raw.get(key, default)
    expected = f"expected a whole number from {minimum} to {maximum}"
    if isinstance(value, bool) or not isinstance(value, (int, str)) or (
            isinstance(value, str) and not (value.isascii() and value.isdigit() and len(value) <= 20)):
        problems.append(f"{where}: {expected}, found {describe(value)}")
        return default
    number = int(value)
    if not minimum <= number <= maximum:
        problems.append(f"{where}: {expected}, found {number}")
        return default
    return number


_REQUIRED = object()


def _string(raw: dict, key: str, where: str, problems: list[str], default: Any = _REQUIRED,
            allow_empty: bool = False) -> str:
    """Return a text setting, or "" after reporting a missing, empty or non-string value.

    A value YAML has already turned into a number, boolean or null is rejected
    rather than converted back, because the conversion is lossy (0777 -> 511).
    """
    if key not in raw:
        if default is _REQUIRED:
            problems.append(f"{where}: missing; add the key {key!r}")
            return ""
        return default
    value = raw[key]
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string, found {describe(value)}; {QUOTE_HINT}")
        return ""
    if not allow_empty and not value.strip():
        problems.append(f"{where}: must not be empty")
        return ""
    if "\x00" in value:
        problems.append(f"{where}: contains a NUL character; remove it")
        return ""
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
