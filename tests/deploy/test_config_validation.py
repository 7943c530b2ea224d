"""load_settings rejects malformed environment, meters and tenants files with a ConfigError.

Each case starts from conf/local.yaml (written to a temporary folder, with the
project's meters, plans and tenants files) and changes one value. Every
assertion checks a fragment of the reported problem, so a failure shows which
message changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines.config import PROJECT_ROOT, SecretStr, load_settings
from pipelines.errors import ConfigError

CONF_DIR = PROJECT_ROOT / "conf"
MINIMAL_METERS = "meters:\n  - name: api_requests\n    event_type: api.request\n    aggregation: COUNT\n"
MINIMAL_TENANTS = "tenants:\n  - id: acme\n    name: Acme\n"


def local_environment(tmp_path: Path) -> dict:
    """Return conf/local.yaml as a mapping with its lake, exports and file paths made absolute."""
    raw = yaml.safe_load((CONF_DIR / "local.yaml").read_text())
    raw["lake"]["root"] = str(tmp_path / "lake")
    raw["exports"]["root"] = str(tmp_path / "exports")
    raw["files"] = {key: str(CONF_DIR / f"{key}.yaml") for key in ("meters", "plans", "tenants")}
    return raw


def write_environment(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "environment.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def environment_with(tmp_path: Path, key_path: tuple, value) -> Path:
    """Write local.yaml with the value at ``key_path`` replaced (a one-element path replaces a section)."""
    raw = local_environment(tmp_path)
    node = raw
    for part in key_path[:-1]:
        node = node[part]
    node[key_path[-1]] = value
    return write_environment(tmp_path, raw)


def environment_with_files(tmp_path: Path, meters: str = MINIMAL_METERS, tenants: str = MINIMAL_TENANTS) -> Path:
    """Write local.yaml pointing to a meters file and a tenants file with the given text."""
    (tmp_path / "meters.yaml").write_text(meters)
    (tmp_path / "tenants.yaml").write_text(tenants)
    raw = local_environment(tmp_path)
    raw["files"]["meters"] = str(tmp_path / "meters.yaml")
    raw["files"]["tenants"] = str(tmp_path / "tenants.yaml")
    return write_environment(tmp_path, raw)


def problems_of(path: Path, overrides: dict | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(path, overrides)
    return "\n".join(raised.value.problems)


# Sections and values of the wrong YAML type.

@pytest.mark.parametrize(("key_path", "value", "expected"), [
    (("kafka",), None, "kafka: expected a mapping, found null"),
    (("kafka",), 5, "kafka: expected a mapping, found integer"),
    (("lake",), "s3a://bucket", "lake: expected a mapping, found string"),
    (("exports",), None, "exports: expected a mapping, found null"),
    (("files",), None, "files: expected a mapping, found null"),
    (("files",), "tenants/x.csv", "files: expected a mapping, found string"),
    (("billing",), None, "billing: expected a mapping, found null"),
    (("billing",), ["issuer"], "billing: expected a mapping, found list"),
    (("audit",), [30], "audit: expected a mapping, found list"),
    (("audit",), {"layer_window_days": "30"}, "audit.layer_window_days: expected a mapping, found string"),
    (("kafka", "options"), ["a"], "kafka.options: expected a mapping, found list"),
    (("spark", "conf"), ["a"], "spark.conf: expected a mapping, found list"),
    (("spark", "conf"), {"spark.x": None}, "spark.conf.spark.x: expected a string, number or boolean, found null"),
    (("files", "meters"), None, "files.meters: expected a string, found null"),
    (("files", "plans"), 5, "files.plans: expected a string, found integer 5"),
])
def test_section_of_wrong_type(tmp_path, key_path, value, expected):
    assert expected in problems_of(environment_with(tmp_path, key_path, value))


def test_wrong_types_reported_together(tmp_path):
    raw = local_environment(tmp_path)
    raw["kafka"] = None
    raw["exports"] = None
    raw["billing"] = [1]

    problems = problems_of(write_environment(tmp_path, raw))

    assert "kafka: expected a mapping, found null" in problems
    assert "exports: expected a mapping, found null" in problems
    assert "billing: expected a mapping, found list" in problems


def test_null_kafka_options_and_spark_conf_allowed(tmp_path):
    raw = local_environment(tmp_path)
    raw["kafka"]["options"] = None
    raw["spark"]["conf"] = None

    settings = load_settings(write_environment(tmp_path, raw))

    assert settings.kafka.options == {}
    assert settings.spark.conf == {}


@pytest.mark.parametrize(("tenants", "expected"), [
    ("tenants:\n  - acme\n", "tenants.yaml: tenants[0]: expected a mapping with id and name, found string"),
    ("tenants:\n  - null\n", "tenants.yaml: tenants[0]: expected a mapping with id and name, found null"),
    ("tenants:\n  acme: {name: Acme}\n", "tenants.yaml: tenants: expected a list, found mapping"),
    ("defaults: [1]\n" + MINIMAL_TENANTS, "tenants.yaml: defaults: expected a mapping, found list"),
    ("files: tenants/x.csv\n" + MINIMAL_TENANTS, "tenants.yaml: files: expected a list, found string"),
    ("files: [null]\n" + MINIMAL_TENANTS, "tenants.yaml: files[0]: expected the path of a CSV file, found null"),
    ("- acme\n", "tenants.yaml: expected a mapping at the top level, found list"),
])
def test_tenants_file_of_wrong_shape(tmp_path, tenants, expected):
    assert expected in problems_of(environment_with_files(tmp_path, tenants=tenants))


@pytest.mark.parametrize(("meters", "expected"), [
    ("meters:\n  - api_requests\n", "meters.yaml: meters[0]: expected a mapping, found string"),
    ("meters: abc\n", "meters.yaml: meters: expected a list, found string"),
])
def test_meters_file_of_wrong_shape(tmp_path, meters, expected):
    assert expected in problems_of(environment_with_files(tmp_path, meters=meters))


# --set overrides of the open sections.

def test_override_spark_conf_keeps_dotted_name(tmp_path):
    settings = load_settings(write_environment(tmp_path, local_environment(tmp_path)),
                             {"spark.conf.spark.driver.memory": "8g"})

    assert settings.spark.conf["spark.driver.memory"] == "8g"
    assert "spark" not in settings.spark.conf


def test_override_kafka_option_keeps_dotted_name(tmp_path):
    settings = load_settings(write_environment(tmp_path, local_environment(tmp_path)),
                             {"kafka.options.security.protocol": "SSL"})

    assert settings.kafka.options == {"security.protocol": "SSL"}


def test_override_into_null_spark_conf(tmp_path):
    path = environment_with(tmp_path, ("spark", "conf"), None)

    settings = load_settings(path, {"spark.conf.spark.sql.ansi.enabled": "true"})

    assert settings.spark.conf == {"spark.sql.ansi.enabled": "true"}


def test_override_audit_layer_window_table(tmp_path):
    settings = load_settings(write_environment(tmp_path, local_environment(tmp_path)),
                             {"audit.layer_window_days.gold.invoices": "3000", "audit.window_days": "2555"})

    assert settings.raw["audit"] == {"layer_window_days": {"gold.invoices": "3000"}, "window_days": "2555"}


def test_override_billing_keeps_one_key(tmp_path):
    settings = load_settings(write_environment(tmp_path, local_environment(tmp_path)),
                             {"billing.issuer": "acme-billing", "billing.a.b": "1"})

    assert settings.billing["issuer"] == "acme-billing"
    assert settings.billing["a.b"] == "1"
    assert "a" not in settings.billing


@pytest.mark.parametrize("key", ["billing.", "audit..x", "spark.conf.spark..x", "kafka.options.a."])
def test_override_with_empty_key_part(tmp_path, key):
    problems = problems_of(write_environment(tmp_path, local_environment(tmp_path)), {key: "1"})

    assert f"--set {key}: empty key part between dots" in problems


def test_override_below_non_mapping(tmp_path):
    path = environment_with(tmp_path, ("kafka", "options"), ["a"])

    problems = problems_of(path, {"kafka.options.security.protocol": "SSL"})

    assert ("--set kafka.options.security.protocol: cannot set it because kafka.options in the file is not a "
            "mapping (found list)") in problems


def test_override_of_unknown_key(tmp_path):
    problems = problems_of(write_environment(tmp_path, local_environment(tmp_path)), {"lake.rot": "/x"})

    assert "--set lake.rot: unknown setting; valid keys are" in problems


# Whole-number settings.

@pytest.mark.parametrize(("key_path", "value", "expected"), [
    (("ingest", "max_event_age_days"), float("inf"),
     "ingest.max_event_age_days: expected a whole number from 1 to 3650, found float inf"),
    (("ingest", "max_event_age_days"), 10**12,
     "ingest.max_event_age_days: expected a whole number from 1 to 3650, found 1000000000000"),
    (("ingest", "max_future_skew_seconds"), 10**15,
     "ingest.max_future_skew_seconds: expected a whole number from 1 to 86400, found 1000000000000000"),
    (("kafka", "partitions"), 2.7, "kafka.partitions: expected a whole number from 1 to 2147483647, found float 2.7"),
    (("kafka", "partitions"), True, "kafka.partitions: expected a whole number from 1 to 2147483647, found boolean true"),
    (("kafka", "partitions"), "2.7", "kafka.partitions: expected a whole number from 1 to 2147483647, found string '2.7'"),
    (("kafka", "partitions"), "٣", "kafka.partitions: expected a whole number from 1 to 2147483647, found string '٣'"),
    (("kafka", "partitions"), 0, "kafka.partitions: expected a whole number from 1 to 2147483647, found 0"),
    (("broker", "port"), 70000, "broker.port: expected a whole number from 1 to 65535, found 70000"),
    (("broker", "port"), "-1", "broker.port: expected a whole number from 1 to 65535, found string '-1'"),
    (("ingest", "trigger_interval_seconds"), 90000,
     "ingest.trigger_interval_seconds: expected a whole number from 1 to 86400, found 90000"),
    (("ingest", "compact_every_batches"), -1,
     "ingest.compact_every_batches: expected a whole number from 0 to 1000000, found -1"),
    (("ingest", "compact_every_batches"), "often",
     "ingest.compact_every_batches: expected a whole number from 0 to 1000000, found string 'often'"),
])
def test_whole_number_out_of_range(tmp_path, key_path, value, expected):
    assert expected in problems_of(environment_with(tmp_path, key_path, value))


def test_whole_number_from_set_accepted(tmp_path):
    settings = load_settings(write_environment(tmp_path, local_environment(tmp_path)),
                             {"kafka.partitions": "8", "broker.port": "19092", "broker.controller_port": 19093})

    assert settings.kafka.partitions == 8
    assert settings.broker.port == 19092
    assert settings.broker.controller_port == 19093


def test_session_time_zone_other_than_utc_is_refused(tmp_path):
    problems = problems_of(write_environment(tmp_path, local_environment(tmp_path)),
                           {"spark.conf.spark.sql.session.timeZone": "Europe/Berlin"})

    assert "spark.conf.spark.sql.session.timeZone: meterhouse runs its sessions in UTC, found 'Europe/Berlin'" in problems


def test_compaction_can_be_turned_off(tmp_path):
    settings = load_settings(write_environment(tmp_path, local_environment(tmp_path)),
                             {"ingest.compact_every_batches": "0"})

    assert settings.ingest.compact_every_batches == 0


def test_compaction_default_is_every_twentieth_batch(tmp_path):
    settings = load_settings(write_environment(tmp_path, local_environment(tmp_path)))

    assert settings.ingest.compact_every_batches == 5


def test_broker_ports_must_differ(tmp_path):
    problems = problems_of(environment_with(tmp_path, ("broker", "controller_port"), 9092))

    assert "broker.controller_port: must differ from broker.port, both are 9092" in problems


# YAML values that parse into something other than what was written.

def test_invalid_date_in_tenants_file(tmp_path):
    tenants = "defaults:\n  subscription_start: 2026-02-30\n" + MINIMAL_TENANTS

    problems = problems_of(environment_with_files(tmp_path, tenants=tenants))

    assert f"{tmp_path / 'tenants.yaml'}: not valid YAML: line 2, column 23: invalid value '2026-02-30'" in problems


def test_repeated_section_in_environment_file(tmp_path):
    path = write_environment(tmp_path, local_environment(tmp_path))
    path.write_text(path.read_text() + "kafka:\n  topic: other\n")

    problems = problems_of(path)

    assert "not valid YAML: line" in problems
    assert "duplicate key 'kafka' (first defined on line" in problems


def test_repeated_tenant_key(tmp_path):
    tenants = "tenants:\n  - id: acme\n    name: Acme\n    id: beta\n"

    problems = problems_of(environment_with_files(tmp_path, tenants=tenants))

    assert "not valid YAML: line 4, column 5: duplicate key 'id' (first defined on line 2)" in problems


@pytest.mark.parametrize(("written", "expected"), [
    ("0777", "integer 511"),
    ("0x1F", "integer 31"),
    ("1:30", "integer 90"),
    ("yes", "boolean true"),
    ("null", "null"),
    ("1.5", "float 1.5"),
])
def test_unquoted_tenant_id_rejected(tmp_path, written, expected):
    tenants = f"tenants:\n  - id: {written}\n    name: Acme\n"

    problems = problems_of(environment_with_files(tmp_path, tenants=tenants))

    assert f"tenants.yaml: tenants[0]: tenant id: expected a string, found {expected}; quote the value" in problems


def test_quoted_numeric_tenant_id_accepted(tmp_path):
    settings = load_settings(environment_with_files(tmp_path, tenants='tenants:\n  - id: "0777"\n    name: "0777"\n'))

    assert settings.tenants["0777"].name == "0777"


def test_unquoted_tenant_name_rejected(tmp_path):
    problems = problems_of(environment_with_files(tmp_path, tenants="tenants:\n  - id: acme\n    name: 0777\n"))

    assert "tenants.yaml: tenants[0] (acme): name: expected a string, found integer 511; quote the value" in problems


@pytest.mark.parametrize(("key_path", "value", "expected"), [
    (("kafka", "topic"), None, "kafka.topic: expected a string, found null; quote the value"),
    (("kafka", "bootstrap_servers"), 9092, "kafka.bootstrap_servers: expected a string, found integer 9092"),
    (("environment",), None, "environment: expected a string, found null"),
    (("spark", "app_name"), True, "spark.app_name: expected a string, found boolean true"),
    (("kafka", "topic"), "", "kafka.topic: must not be empty"),
])
def test_setting_not_a_string(tmp_path, key_path, value, expected):
    assert expected in problems_of(environment_with(tmp_path, key_path, value))


def test_meter_names_not_strings(tmp_path):
    meters = "meters:\n  - name: api_requests\n    event_type: yes\n    aggregation: COUNT\n    group_by: [yes]\n"

    problems = problems_of(environment_with_files(tmp_path, meters=meters))

    assert "meters.yaml: meters[0] (api_requests): event_type: expected a string, found boolean true" in problems
    assert "meters.yaml: meters[0] (api_requests): group_by[0]: expected a string, found boolean true" in problems


def test_boolean_property_values_lower_case(tmp_path):
    raw = local_environment(tmp_path)
    raw["kafka"]["options"] = {"enable.idempotence": True}
    raw["spark"]["conf"] = {"spark.ui.enabled": False}

    settings = load_settings(write_environment(tmp_path, raw))

    assert settings.kafka.options == {"enable.idempotence": "true"}
    assert settings.spark.conf == {"spark.ui.enabled": "false"}


# Storage roots.

@pytest.mark.parametrize(("key_path", "value", "expected"), [
    (("lake", "root"), None, "lake.root: expected a folder path or URI such as s3a://bucket/prefix, found null"),
    (("lake", "root"), "", "lake.root: expected a folder path or URI such as s3a://bucket/prefix, found string ''"),
    (("lake", "root"), ["a"], "lake.root: expected a folder path or URI such as s3a://bucket/prefix, found list"),
    (("exports", "root"), None, "exports.root: expected a folder path or URI such as s3a://bucket/prefix, found null"),
    (("lake", "checkpoint_root"), 5, "lake.checkpoint_root: expected a folder path or URI"),
    (("lake", "catalog"), 5, "lake.catalog: expected 'catalog.schema' or 'schema', found integer 5"),
])
def test_storage_root_invalid(tmp_path, key_path, value, expected):
    assert expected in problems_of(environment_with(tmp_path, key_path, value))


def test_nul_character_in_path_rejected(tmp_path):
    raw = local_environment(tmp_path)
    raw["files"]["meters"] = "meters\x00.yaml"
    raw["broker"]["data_dir"] = "kafka\x00"
    raw["lake"]["root"] = "lake\x00"

    problems = problems_of(write_environment(tmp_path, raw))

    assert "files.meters: contains a NUL character; remove it" in problems
    assert "broker.data_dir: contains a NUL character; remove it" in problems
    assert "lake.root: expected a folder path or URI such as s3a://bucket/prefix, found string 'lake\\x00'" in problems


def test_environment_path_is_folder(tmp_path):
    problems = problems_of(tmp_path)

    assert f"{tmp_path}: is a folder; name a YAML file" in problems


def test_exports_root_equal_to_lake_root(tmp_path):
    path = environment_with(tmp_path, ("exports", "root"), str(tmp_path / "lake") + "/")

    problems = problems_of(path)

    assert f"exports.root: must differ from lake.root, both are {tmp_path / 'lake'}" in problems


# Meter dimensions and unknown keys.

def test_group_by_string_rejected(tmp_path):
    meters = MINIMAL_METERS + "    group_by: region\n"

    problems = problems_of(environment_with_files(tmp_path, meters=meters))

    assert ("meters.yaml: meters[0] (api_requests): group_by must be a list of data fields such as [region], "
            "found string 'region'") in problems


def test_group_by_repeated_dimension_rejected(tmp_path):
    meters = MINIMAL_METERS + "    group_by: [region, region]\n"

    problems = problems_of(environment_with_files(tmp_path, meters=meters))

    assert "meters.yaml: meters[0] (api_requests): dimension 'region' is listed twice in group_by" in problems


def test_group_by_list_accepted(tmp_path):
    settings = load_settings(environment_with_files(tmp_path, meters=MINIMAL_METERS + "    group_by: [region, plan]\n"))

    assert settings.meters[0].group_by == ("region", "plan")


def test_unknown_meter_key(tmp_path):
    problems = problems_of(environment_with_files(tmp_path, meters=MINIMAL_METERS + "    unti: request\n"))

    assert ("unknown key 'unti' in meters.yaml: meters[0]; known keys: name, event_type, aggregation, value_path, "
            "group_by, unit, description") in problems


@pytest.mark.parametrize(("section", "key", "expected"), [
    ("kafka", "topci", "unknown key 'topci' in kafka; known keys: bootstrap_servers, topic, partitions"),
    ("lake", "rot", "unknown key 'rot' in lake; known keys: root, checkpoint_root, catalog"),
    ("spark", "confs", "unknown key 'confs' in spark; known keys: master, app_name, shuffle_partitions, conf"),
    ("broker", "prot", "unknown key 'prot' in broker; known keys: host, port"),
    ("ingest", "max_age", "unknown key 'max_age' in ingest; known keys: max_event_age_days"),
    ("files", "plan", "unknown key 'plan' in files; known keys: meters, plans, tenants"),
])
def test_unknown_section_key(tmp_path, section, key, expected):
    assert expected in problems_of(environment_with(tmp_path, (section, key), "x"))


def test_unknown_top_level_key(tmp_path):
    problems = problems_of(environment_with(tmp_path, ("kafak",), {"topic": "x"}))

    assert "unknown key 'kafak' in the environment file; known keys: environment, kafka, broker" in problems


def test_unknown_tenants_file_key(tmp_path):
    problems = problems_of(environment_with_files(tmp_path, tenants="tenant:\n  - id: acme\n"))

    assert "unknown key 'tenant' in tenants.yaml; known keys: defaults, tenants, files" in problems


# CSV tenant lists.

def tenant_list_environment(tmp_path: Path, content: bytes | None) -> Path:
    """Write an environment whose tenants file lists tenants.csv with ``content`` (None: a folder)."""
    csv_path = tmp_path / "tenants.csv"
    if content is None:
        csv_path.mkdir()
    else:
        csv_path.write_bytes(content)
    return environment_with_files(tmp_path, tenants="files: [tenants.csv]\n")


def test_tenant_list_folder(tmp_path):
    problems = problems_of(tenant_list_environment(tmp_path, None))

    assert f"tenants.yaml: tenant list {tmp_path / 'tenants.csv'} is not a file; list CSV files, not folders" in problems


def test_tenant_list_latin1(tmp_path):
    problems = problems_of(tenant_list_environment(tmp_path, "tenant_id,name\nacme,Acme\nbeta,Bêta\n".encode("latin-1")))

    assert "tenants.csv:3: byte 0xea is not valid UTF-8; save the tenant list as UTF-8" in problems


def test_tenant_list_with_bom(tmp_path):
    path = tenant_list_environment(tmp_path, "tenant_id,name,plan\nacme,Acme,starter\n".encode("utf-8-sig"))

    settings = load_settings(path)

    assert settings.tenants["acme"].name == "Acme"
    assert settings.tenants["acme"].attributes == {"plan": "starter"}


def test_tenant_list_extra_fields(tmp_path):
    problems = problems_of(tenant_list_environment(tmp_path, b"tenant_id,name,plan\nacme,Acme,starter,x,y\n"))

    assert "tenants.csv:2: 2 more fields than the 3 header columns; quote values that contain commas" in problems


def test_tenant_list_without_tenant_id_column(tmp_path):
    problems = problems_of(tenant_list_environment(tmp_path, b"id,name\nacme,Acme\n"))

    assert "tenants.csv:1: the header has no tenant_id column, found ['id', 'name']" in problems


def test_tenant_list_empty(tmp_path):
    problems = problems_of(tenant_list_environment(tmp_path, b""))

    assert "tenants.csv: the file is empty; expected a header line such as tenant_id,name,plan" in problems


def test_tenant_list_repeated_column(tmp_path):
    problems = problems_of(tenant_list_environment(tmp_path, b"tenant_id,name,name\nacme,Acme,Other\n"))

    assert "tenants.csv:1: the header repeats the columns ['name']" in problems


# ${env:NAME} references.

def environment_with_option(tmp_path: Path, value: str) -> Path:
    return environment_with(tmp_path, ("kafka", "options"), {"sasl.jaas.config": value})


def test_empty_secret_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("METERHOUSE_TEST_SECRET", "")

    problems = problems_of(environment_with_option(tmp_path, "${env:METERHOUSE_TEST_SECRET}"))

    assert ("kafka.options.sasl.jaas.config: environment variable METERHOUSE_TEST_SECRET is set but empty") in problems


def test_secret_reference_resolved(tmp_path, monkeypatch):
    monkeypatch.setenv("METERHOUSE_TEST_SECRET", "s3cret-value")

    settings = load_settings(environment_with_option(tmp_path, "${env:METERHOUSE_TEST_SECRET}"))

    assert isinstance(settings.kafka.options["sasl.jaas.config"], SecretStr)
    assert settings.kafka.options["sasl.jaas.config"] == "s3cret-value"


@pytest.mark.parametrize("value", ["pre${env:METERHOUSE_TEST_SECRET}", "${ENV:METERHOUSE_TEST_SECRET}",
                                   "${env:METERHOUSE_TEST_SECRET", "${env:A}${env:B}"])
def test_partial_reference_rejected(tmp_path, monkeypatch, value):
    monkeypatch.setenv("METERHOUSE_TEST_SECRET", "s3cret-value")

    problems = problems_of(environment_with_option(tmp_path, value))

    assert "kafka.options.sasl.jaas.config: contains '${' but is not one whole ${env:NAME} reference" in problems
    assert "s3cret-value" not in problems


@pytest.mark.parametrize(("key_path", "where"), [
    (("spark", "conf"), "spark.conf.spark.x"),
    (("lake", "root"), "lake.root"),
    (("billing", "issuer"), "billing.issuer"),
])
def test_reference_outside_kafka_options_rejected(tmp_path, key_path, where):
    value = {"spark.x": "${env:HOME}"} if key_path == ("spark", "conf") else "${env:HOME}"

    problems = problems_of(environment_with(tmp_path, key_path, value))

    assert (f"{where}: contains '${{', but ${{env:NAME}} references are only resolved as the whole value of a "
            "kafka.options entry") in problems


def test_reference_in_override_rejected(tmp_path):
    problems = problems_of(write_environment(tmp_path, local_environment(tmp_path)), {"lake.root": "${env:HOME}"})

    assert "lake.root: contains '${'" in problems


# The project's own files.

def test_local_file_loads():
    settings = load_settings(CONF_DIR / "local.yaml")

    assert settings.environment == "local"
    assert settings.spark.conf["spark.driver.memory"] == "4g"
    assert len(settings.meters) > 0
    assert "acme" in settings.tenants
