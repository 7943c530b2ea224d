"""The strict YAML loader behind the configuration files and the plans file."""

from __future__ import annotations

import pytest
import yaml

from pipelines.billing.plans import load_plans
from pipelines.errors import ConfigError
from pipelines.yaml_files import StrictYamlError, describe, load_yaml


def rejection_message(text: str) -> str:
    with pytest.raises(StrictYamlError) as raised:
        load_yaml(text)
    return str(raised.value)


def test_repeated_top_level_key_rejected():
    message = rejection_message("kafka:\n  topic: a\nlake: {}\nkafka:\n  topic: b\n")

    assert message.startswith("line 4, column 1: duplicate key 'kafka' (first defined on line 1)")
    assert "remove or merge one of them" in message


def test_repeated_nested_key_rejected():
    message = rejection_message("tenants:\n  - id: acme\n    name: Acme\n    id: beta\n")

    assert message.startswith("line 4, column 5: duplicate key 'id' (first defined on line 2)")


def test_keys_equal_after_resolution_rejected():
    assert "duplicate key True" in rejection_message("yes: 1\ntrue: 2\n")


def test_merge_key_override_allowed():
    loaded = load_yaml("base: &base {a: 1, b: 2}\ntop:\n  <<: *base\n  a: 5\n")

    assert loaded["top"] == {"a": 5, "b": 2}


def test_chained_merge_override_allowed():
    loaded = load_yaml("base: &b {a: 1}\nmid: &m {<<: *b, a: 2}\ntop: {<<: *m, a: 3}\n")

    assert loaded == {"base": {"a": 1}, "mid": {"a": 2}, "top": {"a": 3}}


def test_invalid_date_is_yaml_error():
    message = rejection_message("subscription_start: 2026-02-30\n")

    assert message == ("line 1, column 21: invalid value '2026-02-30' (day is out of range for month); "
                       "correct it, or quote it to keep it as text")


def test_quoted_invalid_date_stays_text():
    assert load_yaml('subscription_start: "2026-02-30"\n') == {"subscription_start": "2026-02-30"}


def test_deep_nesting_is_yaml_error():
    assert "nested too deeply" in rejection_message("a: " + "[" * 5000 + "]" * 5000)


def test_strict_error_is_yaml_error():
    assert issubclass(StrictYamlError, yaml.YAMLError)


@pytest.mark.parametrize(("value", "expected"), [
    (None, "null"),
    (True, "boolean true"),
    (511, "integer 511"),
    (float("inf"), "float inf"),
    ("x" * 80, f"string '{'x' * 57}...'"),
    ([1], "list"),
    ({"a": 1}, "mapping"),
])
def test_describe_names_yaml_types(value, expected):
    assert describe(value) == expected


def test_plans_file_rejects_repeated_plan(tmp_path):
    plans = tmp_path / "plans.yaml"
    plans.write_text("plans:\n"
                     "  starter:\n    name: Starter\n    currency: EUR\n"
                     "  starter:\n    name: Starter again\n    currency: EUR\n")

    with pytest.raises(ConfigError) as raised:
        load_plans(plans, [])

    assert raised.value.source == str(plans)
    assert raised.value.problems == ["not valid YAML: line 5, column 3: duplicate key 'starter' (first defined on "
                                     "line 2); YAML would keep only the last one, so remove or merge one of them"]


def test_plans_file_invalid_date_is_config_error(tmp_path):
    plans = tmp_path / "plans.yaml"
    plans.write_text("plans:\n  starter:\n    name: Starter\n    valid_from: 2026-02-30\n")

    with pytest.raises(ConfigError) as raised:
        load_plans(plans, [])

    assert "not valid YAML: line 4, column 17: invalid value '2026-02-30'" in raised.value.problems[0]
