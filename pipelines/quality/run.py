"""The mapping of suites to tables, and the job that runs the suites and records the results."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from great_expectations.core.expectation_suite import ExpectationSuite
from pyspark.sql import DataFrame, SparkSession

from pipelines.billing.vocabulary import InvoiceColumn as I
from pipelines.config import Settings
from pipelines.errors import MeterhouseError
from pipelines.quality import frames
from pipelines.quality.consistency import GOLD_KEY, check_gold_matches_silver
from pipelines.quality.results import write_results
from pipelines.quality.suites import SUITES_DIR, load_suite, suite_path
from pipelines.quality.validate import ValidationOutcome, validate_dataframe
from pipelines.tables import current_version, read_table
from pipelines.vocabulary import Column as C
from pipelines.vocabulary import Table

log = logging.getLogger(__name__)

FrameReader = Callable[[SparkSession, Settings, dict[str, int]], DataFrame]


@dataclass(frozen=True)
class QualityTarget:
    """A suite, the table whose version it validates, and how its DataFrame is read.

    ``related`` lists other tables the DataFrame reads; their versions are
    pinned and recorded too.
    """

    suite: str
    table: Table
    read_frame: FrameReader
    key_columns: tuple[str, ...]
    related: tuple[Table, ...] = ()


TARGETS: dict[str, tuple[QualityTarget, ...]] = {
    "silver": (
        QualityTarget("silver_events", Table.SILVER_EVENTS, frames.read_silver_event_checks, (C.TENANT_ID, C.EVENT_ID)),
        QualityTarget("silver_meter_values", Table.SILVER_EVENTS, frames.read_silver_meter_values,
                      (C.TENANT_ID, C.EVENT_ID, C.METER)),
    ),
    "gold": (
        QualityTarget("gold_usage", Table.GOLD_HOURLY, frames.read_gold_hourly, tuple(GOLD_KEY),
                      related=(Table.SILVER_EVENTS,)),
    ),
    "invoices": (
        QualityTarget("invoices", Table.GOLD_INVOICES, frames.read_invoice_checks,
                      (I.TENANT_ID, I.INVOICE_ID, I.PERIOD), related=(Table.GOLD_INVOICE_LINES,)),
    ),
}
TABLE_CHOICES = (*TARGETS, "all")


def suite_parameters(settings: Settings) -> dict:
    """Values for the ``$PARAMETER`` placeholders of the suites, from the ingest limits."""
    return {
        "min_event_lag_seconds": -int(settings.ingest.max_future_skew.total_seconds()),
        "max_event_lag_seconds": int(settings.ingest.max_event_age.total_seconds()),
        "max_quantity": float(settings.ingest.max_quantity),
    }


def targets_for(choice: str) -> tuple[QualityTarget, ...]:
    if choice == "all":
        return tuple(target for targets in TARGETS.values() for target in targets)
    if choice not in TARGETS:
        raise MeterhouseError(f"unknown quality table {choice!r}; choose one of {list(TABLE_CHOICES)}")
    return TARGETS[choice]


def run_target(spark: SparkSession, settings: Settings, target: QualityTarget,
               suite: ExpectationSuite | None = None) -> ValidationOutcome | None:
    """Validate the current version of the target's table; None when a table does not exist yet.

    ``suite`` defaults to ``conf/quality/<suite>.json``.
    """
    versions = {table.value: current_version(spark, settings, table) for table in (target.table, *target.related)}
    missing = [name for name, version in versions.items() if version is None]
    if missing:
        log.warning("suite %s skipped: %s does not exist yet", target.suite, ", ".join(missing))
        return None

    suite = suite or load_suite(suite_path(target.suite, SUITES_DIR))
    frame = target.read_frame(spark, settings, versions)
    evaluated, failures = validate_dataframe(frame, suite, target.key_columns, suite_parameters(settings))
    if target.table is Table.GOLD_HOURLY:
        silver = read_table(spark, settings, Table.SILVER_EVENTS, versions[Table.SILVER_EVENTS.value])
        checked, extra = check_gold_matches_silver(silver, frame, settings.meters)
        evaluated += checked
        failures += extra

    outcome = ValidationOutcome(
        suite=suite.name, table=target.table.value, table_version=versions[target.table.value],
        related_versions={name: version for name, version in versions.items() if name != target.table.value},
        evaluated=evaluated, failures=tuple(failures))
    for failure in outcome.failures:
        level = logging.ERROR if failure.is_blocking else logging.WARNING
        log.log(level, "suite %s on %s v%s: %s (%s) failed for %s of %s rows, tenants %s", outcome.suite,
                outcome.table, outcome.table_version, failure.expectation, failure.severity,
                failure.unexpected_count, failure.element_count, failure.tenant_ids or "all")
    return outcome


def run_quality(spark: SparkSession, settings: Settings, targets: Sequence[QualityTarget],
                suites_dir: Path = SUITES_DIR) -> list[ValidationOutcome]:
    """Validate each target and append the outcomes to quality.validation_results."""
    outcomes = []
    for target in targets:
        suite = load_suite(suite_path(target.suite, suites_dir))
        outcome = run_target(spark, settings, target, suite)
        if outcome is not None:
            outcomes.append(outcome)
    if outcomes:
        write_results(spark, settings, outcomes)
    return outcomes
