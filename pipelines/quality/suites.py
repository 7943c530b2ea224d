"""Expectation suites kept in the repository as great-expectations JSON.

A suite file (``conf/quality/<name>.json``) is the output of
``ExpectationSuite.to_json_dict()``: a name, ``meta`` and a list of
expectations, each with ``type``, ``kwargs``, ``meta`` and ``severity``
(``critical``, ``warning`` or ``info``). A critical failure blocks finalizing
the invoices of the tenants it affects; warning and info failures are recorded
only. An expectation without ``severity`` is critical, as in great-expectations
1.24.
"""

from __future__ import annotations

import json
from pathlib import Path

from great_expectations.core.expectation_suite import ExpectationSuite
from great_expectations.expectations.metadata_types import FailureSeverity

from pipelines.config import PROJECT_ROOT
from pipelines.errors import ConfigError

SUITES_DIR = PROJECT_ROOT / "conf" / "quality"
BLOCKING_SEVERITY = FailureSeverity.CRITICAL.value


def suite_path(name: str, directory: Path = SUITES_DIR) -> Path:
    return directory / f"{name}.json"


def load_suite(path: Path) -> ExpectationSuite:
    """Read a suite file; raise ConfigError naming every invalid expectation."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), ["expectation suite file not found"]) from None
    except json.JSONDecodeError as error:
        raise ConfigError(str(path), [f"not valid JSON: {error}"]) from None

    problems = []
    valid_severities = [item.value for item in FailureSeverity]
    for index, expectation in enumerate(raw.get("expectations") or []):
        severity = expectation.get("severity", BLOCKING_SEVERITY)
        if severity not in valid_severities:
            problems.append(f"expectations[{index}] ({expectation.get('type')}): severity must be one of "
                            f"{valid_severities}, found {severity!r}")
    if not raw.get("name"):
        problems.append("name is missing")
    if problems:
        raise ConfigError(str(path), problems)

    suite = ExpectationSuite(name=raw["name"], expectations=raw.get("expectations") or [], meta=raw.get("meta"))
    # ExpectationSuite logs and drops an expectation it cannot build; a silently
    # shorter suite would pass data it was meant to stop.
    if len(suite.expectations) != len(raw.get("expectations") or []):
        raise ConfigError(str(path), [f"{len(raw['expectations']) - len(suite.expectations)} expectations are not "
                                      "valid great-expectations configurations; see the log for each"])
    return suite


def save_suite(suite: ExpectationSuite, path: Path) -> None:
    """Write ``suite`` as indented JSON that ``load_suite`` reads back unchanged."""
    document = suite.to_json_dict()
    document.pop("id", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
