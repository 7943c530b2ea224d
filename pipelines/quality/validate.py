"""Run an expectation suite on a Spark DataFrame with an ephemeral great-expectations context.

Nothing is written by great-expectations itself: the context lives in memory
(``mode="ephemeral"``), the DataFrame is passed as a batch parameter of a Spark
data source, and the caller records the outcome in quality.validation_results.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import great_expectations as gx
from great_expectations.core.expectation_suite import ExpectationSuite
from great_expectations.data_context.types.base import ProgressBarsConfig
from pyspark.sql import DataFrame

from pipelines.quality.suites import BLOCKING_SEVERITY
from pipelines.vocabulary import Column as C

log = logging.getLogger(__name__)

# Failing rows kept as examples per expectation; tenant ids are kept for every
# failing row because the gate needs all of them.
SAMPLE_KEYS = 20


@dataclass(frozen=True)
class ExpectationFailure:
    """One failed expectation: how many rows failed, for which tenants, with example keys.

    ``tenant_ids`` is None when the expectation looks at the whole table (a
    row count, say) and so cannot name tenants; the gate then treats it as
    affecting every tenant.
    """

    expectation: str
    column: str | None
    severity: str
    unexpected_count: int | None
    element_count: int | None
    tenant_ids: tuple[str, ...] | None
    sample_keys: tuple[str, ...]
    detail: str

    @property
    def is_blocking(self) -> bool:
        return self.severity == BLOCKING_SEVERITY


@dataclass(frozen=True)
class ValidationOutcome:
    """The result of one suite on one table version."""

    suite: str
    table: str
    table_version: int | None
    related_versions: dict[str, int | None]
    evaluated: int
    failures: tuple[ExpectationFailure, ...] = field(default_factory=tuple)

    @property
    def success(self) -> bool:
        return not self.failures

    @property
    def blocking_failures(self) -> tuple[ExpectationFailure, ...]:
        return tuple(failure for failure in self.failures if failure.is_blocking)


def validate_dataframe(
    frame: DataFrame,
    suite: ExpectationSuite,
    key_columns: Sequence[str],
    parameters: dict | None = None,
) -> tuple[int, list[ExpectationFailure]]:
    """Validate ``frame`` against ``suite``; return the number evaluated and the failures.

    ``key_columns`` identify a failing row in the sample keys and must include
    ``tenant_id``. ``parameters`` fill ``{"$PARAMETER": name}`` placeholders.
    """
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # Unique names keep two validations in one process apart.
    name = f"{suite.name}-{uuid.uuid4().hex[:8]}"
    batch_definition = (context.data_sources.add_spark(name=name)
                        .add_dataframe_asset(name=name)
                        .add_batch_definition_whole_dataframe(name))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, expectation_parameters=parameters or {}, result_format={
        "result_format": "COMPLETE", "unexpected_index_column_names": list(key_columns)})

    failures = [_failure(item, key_columns) for item in result.results if not item.success]
    return len(result.results), failures


def _failure(item, key_columns: Sequence[str]) -> ExpectationFailure:
    configuration = item.expectation_config
    kwargs = configuration.kwargs
    column = kwargs.get("column") or ",".join(kwargs.get("column_list") or [])
    if not column and kwargs.get("column_A"):
        column = f"{kwargs['column_A']},{kwargs['column_B']}"
    details = item.result or {}
    index_rows = details.get("unexpected_index_list")
    tenant_ids = None
    samples: tuple[str, ...] = ()
    if index_rows:
        tenant_ids = tuple(sorted({str(row.get(C.TENANT_ID)) for row in index_rows}))
        samples = tuple(json.dumps({key: _plain(row.get(key)) for key in key_columns}, sort_keys=True)
                        for row in index_rows[:SAMPLE_KEYS])
    if item.exception_info and item.exception_info.get("raised_exception"):
        detail = f"raised: {item.exception_info.get('exception_message')}"
    else:
        detail = json.dumps({key: _plain(value) for key, value in details.items()
                             if key in ("observed_value", "partial_unexpected_list")}, sort_keys=True)[:2000]
    return ExpectationFailure(
        expectation=configuration.type,
        column=column or None,
        severity=configuration.severity.value,
        unexpected_count=details.get("unexpected_count"),
        element_count=details.get("element_count"),
        tenant_ids=tenant_ids,
        sample_keys=samples,
        detail=detail,
    )


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
