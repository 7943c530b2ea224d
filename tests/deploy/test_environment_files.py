"""conf/cluster.yaml and conf/databricks.yaml load, and their secrets stay hidden.

Each file is loaded with a dummy value for every ${env:NAME} it references.
The commented alternatives between "# example: NAME" and "# end example" are
loaded too, so they cannot drift from the schema.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import yaml

from pipelines.config import PROJECT_ROOT, SecretStr, load_settings
from pipelines.errors import ConfigError

CONF_DIR = PROJECT_ROOT / "conf"
ENVIRONMENT_FILES = ("cluster.yaml", "databricks.yaml")
ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
EXAMPLE_BLOCK = re.compile(r"^( *)# example: (\S+)\n(.*?)^\1# end example$", re.MULTILINE | re.DOTALL)
# Kafka client properties whose values are credentials.
SECRET_PROPERTY = re.compile(r"(password|jaas|secret|keystore\.key$|keystore\.certificate)")


def dummy_secret(name: str) -> str:
    return f"dummy-{name.lower()}-7f3a"


@pytest.fixture
def dummy_environment(monkeypatch) -> dict[str, str]:
    names = {name for file in ENVIRONMENT_FILES for name in ENV_REFERENCE.findall((CONF_DIR / file).read_text())}
    values = {name: dummy_secret(name) for name in names}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def example_blocks(path: Path) -> dict[str, dict]:
    """Return each commented example of ``path`` as the mapping it stands for."""
    blocks = {}
    for match in EXAMPLE_BLOCK.finditer(path.read_text()):
        lines = [re.sub(r"^ *# ?", "", line) for line in match.group(3).splitlines()]
        option_lines = [line for line in lines if re.match(r"^[a-z][a-z.]+: ", line)]
        blocks[match.group(2)] = yaml.safe_load("\n".join(option_lines))
    return blocks


def load_with_options(path: Path, options: dict, tmp_path: Path):
    """Load ``path`` with its Kafka options replaced by ``options``."""
    raw = yaml.safe_load(path.read_text())
    raw["kafka"]["options"] = options
    for key in ("meters", "plans", "tenants"):
        raw["files"][key] = str(CONF_DIR / raw["files"][key])
    copy = tmp_path / path.name
    copy.write_text(yaml.safe_dump(raw))
    return load_settings(copy)


@pytest.mark.parametrize("file_name", ENVIRONMENT_FILES)
def test_environment_file_loads(file_name, dummy_environment):
    settings = load_settings(CONF_DIR / file_name)

    assert settings.environment == Path(file_name).stem
    assert "://" in settings.lake.root
    assert settings.kafka.options["security.protocol"] == "SASL_SSL"
    assert isinstance(settings.kafka.options["sasl.jaas.config"], SecretStr)
    assert str(settings.kafka.options["sasl.jaas.config"]) == dummy_environment["KAFKA_SASL_JAAS_CONFIG"]


@pytest.mark.parametrize("file_name", ENVIRONMENT_FILES)
def test_secrets_stay_out_of_repr_and_logs(file_name, dummy_environment, caplog):
    caplog.set_level(logging.DEBUG)

    settings = load_settings(CONF_DIR / file_name)
    logging.getLogger("pipelines").info("settings: %r kafka: %r options: %r", settings, settings.kafka,
                                        list(settings.kafka.options.values()))

    visible_text = repr(settings) + repr(settings.kafka) + caplog.text
    for value in dummy_environment.values():
        assert value not in visible_text


@pytest.mark.parametrize("file_name", ENVIRONMENT_FILES)
def test_secret_properties_come_from_environment(file_name):
    raw = yaml.safe_load((CONF_DIR / file_name).read_text())
    blocks = [raw["kafka"]["options"], *example_blocks(CONF_DIR / file_name).values()]

    inline = [(key, value) for block in blocks for key, value in block.items()
              if SECRET_PROPERTY.search(key) and not ENV_REFERENCE.fullmatch(str(value))]

    assert inline == []


def test_examples_cover_each_security_protocol():
    blocks = {**example_blocks(CONF_DIR / "cluster.yaml"), **example_blocks(CONF_DIR / "databricks.yaml")}
    active = [yaml.safe_load((CONF_DIR / file).read_text())["kafka"]["options"] for file in ENVIRONMENT_FILES]

    options = [*active, *blocks.values()]
    mechanisms = {(block["security.protocol"], block.get("sasl.mechanism")) for block in options}

    assert ("SASL_SSL", "SCRAM-SHA-512") in mechanisms
    assert ("SASL_SSL", "PLAIN") in mechanisms
    assert ("SSL", None) in mechanisms


@pytest.mark.parametrize("file_name", ENVIRONMENT_FILES)
def test_example_blocks_load(file_name, dummy_environment, tmp_path):
    blocks = example_blocks(CONF_DIR / file_name)

    assert blocks, "no commented examples found"
    for name, options in blocks.items():
        settings = load_with_options(CONF_DIR / file_name, options, tmp_path)
        assert set(settings.kafka.options) == set(options), name


def test_storage_root_examples():
    text = (CONF_DIR / "cluster.yaml").read_text() + (CONF_DIR / "databricks.yaml").read_text()

    for scheme in ("s3a://", "abfss://", "gs://"):
        assert scheme in text


@pytest.mark.parametrize("file_name", ENVIRONMENT_FILES)
def test_missing_secret_names_variable(file_name, dummy_environment, monkeypatch):
    monkeypatch.delenv("KAFKA_SASL_JAAS_CONFIG")

    with pytest.raises(ConfigError) as raised:
        load_settings(CONF_DIR / file_name)

    assert "kafka.options.sasl.jaas.config: environment variable KAFKA_SASL_JAAS_CONFIG is not set" in str(raised.value)
