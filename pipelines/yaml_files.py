"""Strict YAML loading for the configuration files.

PyYAML's ``safe_load`` silently keeps the last of two equal keys in a mapping,
and raises a bare ``ValueError`` (not a ``yaml.YAMLError``) for a scalar
that resolves to an impossible value, such as the unquoted date 2026-02-30.
``load_yaml`` rejects repeated keys and turns such values into a
``StrictYamlError`` with the line, so callers need to catch only
``yaml.YAMLError``. (Both behaviours checked with PyYAML 6.0.)

The module also contains the shape checks that the loaders share
(``expect_mapping``, ``expect_list``, ``report_unknown_keys``), which report
into a list of problems so that one run reports every defect.
"""

from __future__ import annotations

from typing import IO, Any

import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictYamlError(yaml.YAMLError):
    """A YAML document that parses but is rejected: a repeated key or an invalid scalar."""

    def __init__(self, mark: yaml.Mark | None, message: str):
        super().__init__(message)
        self.mark = mark
        self.message = message

    def __str__(self) -> str:
        if self.mark is None:
            return self.message
        return f"line {self.mark.line + 1}, column {self.mark.column + 1}: {self.message}"


class StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects repeated mapping keys and reports invalid scalars with their line."""

    def __init__(self, stream):
        super().__init__(stream)
        self._checked_mappings: set[int] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # flatten_mapping rewrites node.value in place (merge keys removed, merged
        # pairs prepended), so the check runs on the first call only, before
        # the keys change.
        if id(node) not in self._checked_mappings:
            self._checked_mappings.add(id(node))
            self._reject_repeated_keys(node)
        super().flatten_mapping(node)

    def _reject_repeated_keys(self, node: yaml.MappingNode) -> None:
        first_marks: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            # A key given both by a merge (<<: *base) and explicitly is an
            # intended override, so only the explicit keys are compared.
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node)
            try:
                hash(key)
            except TypeError:
                continue  # SafeLoader itself rejects unhashable keys
            if key in first_marks:
                first_line = first_marks[key].line + 1
                message = (f"duplicate key {key!r} (first defined on line {first_line}); "
                           "YAML would keep only the last one, so remove or merge one of them")
                raise StrictYamlError(key_node.start_mark, message)
            first_marks[key] = key_node.start_mark

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except ValueError as error:
            # For example datetime.date(2026, 2, 30) for an unquoted 2026-02-30.
            text = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            raise StrictYamlError(node.start_mark, f"invalid value {text!r} ({error}); "
                                                   "correct it, or quote it to keep it as text") from None


def load_yaml(stream: str | bytes | IO) -> Any:
    """Parse one YAML document with ``StrictSafeLoader``.

    Raises ``yaml.YAMLError`` (``StrictYamlError`` for a repeated key, an
    invalid scalar or nesting too deep to parse).
    """
    try:
        return yaml.load(stream, Loader=StrictSafeLoader)
    except RecursionError:
        raise StrictYamlError(None, "nested too deeply to parse; flatten the document") from None


def describe(value: Any) -> str:
    """Name the YAML type of a parsed value, with the value itself for short scalars.

    Lists and mappings are named without their contents, which may be long or
    hold secrets.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return f"string {text!r}"
    names = {int: "integer", float: "float"}
    return f"{names.get(type(value), type(value).__name__)} {value}"


def expect_mapping(value: Any, where: str, problems: list[str], allow_null: bool = False) -> dict:
    """Return ``value`` if it is a mapping, else report it to ``problems`` and return ``{}``."""
    if isinstance(value, dict):
        return value
    if value is None and allow_null:
        return {}
    problems.append(f"{where}: expected a mapping, found {yaml_type_name(value)}")
    return {}


def expect_list(value: Any, where: str, problems: list[str], allow_null: bool = False) -> list:
    """Return ``value`` if it is a list, else report it to ``problems`` and return ``[]``."""
    if isinstance(value, list):
        return value
    if value is None and allow_null:
        return []
    problems.append(f"{where}: expected a list, found {yaml_type_name(value)}")
    return []


def report_unknown_keys(mapping: dict, known: tuple[str, ...], where: str, problems: list[str]) -> None:
    """Report each key of ``mapping`` that is not in ``known``, so a misspelt key is not silently ignored."""
    for key in mapping:
        if key not in known:
            problems.append(f"unknown key {key!r} in {where}; known keys: {', '.join(known)}")


def yaml_type_name(value: Any) -> str:
    """Name the YAML type of a parsed value: null, boolean, integer, float, string, list or mapping."""
    return describe(value).split(" ", 1)[0]
