"""The finalize gate: invoices of tenants with open critical problems stay drafts.

Two sources block a tenant's invoice for a period:
- the latest quality.validation_results row of each (suite, table) whose
  critical failures name the tenant, or name no tenant at all (a table-wide
  failure blocks everyone);
- a gold.reconciliation row of the tenant and period whose status is blocking,
  such as Kafka offsets missing from bronze.

Billing calls ``assert_can_finalize`` before it numbers any invoice. A warning
or info failure never blocks.

NOTE: the gate reads the results that exist. It does not require that the
suites ran on the current table versions, and with no results at all it only
logs a warning. The scheduled billing job runs reconcile and quality first;
run ``meterhouse quality`` before finalizing by hand.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.config import Settings
from pipelines.errors import MeterhouseError
from pipelines.quality.results import R, latest_results
from pipelines.quality.suites import BLOCKING_SEVERITY
from pipelines.reconciliation.report import BLOCKING_STATUSES, RC
from pipelines.tables import read_table, table_exists
from pipelines.vocabulary import Table

log = logging.getLogger(__name__)


class FinalizeBlockedError(MeterhouseError):
    """Finalizing was requested for invoices that a critical check blocks."""

    def __init__(self, period: str, blocks: list[FinalizeBlock]):
        self.period = period
        self.blocks = list(blocks)
        lines = "\n".join(f"  - {block.message}" for block in self.blocks)
        super().__init__(f"cannot finalize {len({block.tenant_id for block in self.blocks})} invoices of period "
                         f"{period}; fix the data, rerun `meterhouse quality` and `meterhouse reconcile`, "
                         f"then finalize again:\n{lines}")


@dataclass(frozen=True)
class FinalizeBlock:
    """One reason why one tenant's invoice may not be finalized."""

    tenant_id: str
    source: str
    message: str


def find_finalize_blocks(spark: SparkSession, settings: Settings, period: str,
                         tenant_ids: Iterable[str]) -> list[FinalizeBlock]:
    """Return every reason that blocks finalizing ``period`` for ``tenant_ids``, sorted by tenant."""
    tenants = sorted(set(tenant_ids))
    blocks = _quality_blocks(spark, settings, tenants) + _reconciliation_blocks(spark, settings, period, tenants)
    return sorted(blocks, key=lambda block: (block.tenant_id, block.source, block.message))


def assert_can_finalize(spark: SparkSession, settings: Settings, period: str, tenant_ids: Iterable[str]) -> None:
    """Raise FinalizeBlockedError listing every block of ``period`` for ``tenant_ids``."""
    blocks = find_finalize_blocks(spark, settings, period, tenant_ids)
    if blocks:
        raise FinalizeBlockedError(period, blocks)


def _quality_blocks(spark: SparkSession, settings: Settings, tenants: list[str]) -> list[FinalizeBlock]:
    latest = latest_results(spark, settings)
    if latest is None:
        log.warning("no quality results in %s: finalizing without data quality checks; "
                    "run `meterhouse quality` first", Table.QUALITY_RESULTS.value)
        return []
    if not tenants:
        return []
    failing = latest.where(F.col(R.FAILED_CRITICAL) > 0).collect()
    blocks = []
    for row in failing:
        for failure in row[R.FAILURES]:
            if failure["severity"] != BLOCKING_SEVERITY:
                continue
            affected = tenants if failure["tenant_ids"] is None else sorted(set(failure["tenant_ids"]) & set(tenants))
            for tenant_id in affected:
                scope = "the whole table" if failure["tenant_ids"] is None else f"tenant {tenant_id}"
                blocks.append(FinalizeBlock(tenant_id, "quality", (
                    f"tenant {tenant_id}: suite {row[R.SUITE]}, expectation {failure['expectation']} "
                    f"(column {failure['column']}, {failure['severity']}) failed on {row[R.TABLE]} version "
                    f"{row[R.TABLE_VERSION]} for {scope}: {failure['unexpected_count']} of "
                    f"{failure['element_count']} rows unexpected")))
    return blocks


def _reconciliation_blocks(spark: SparkSession, settings: Settings, period: str,
                           tenants: list[str]) -> list[FinalizeBlock]:
    if not tenants or not table_exists(spark, settings, Table.GOLD_RECONCILIATION):
        return []
    rows = (read_table(spark, settings, Table.GOLD_RECONCILIATION)
            .where((F.col(RC.PERIOD) == period) & F.col(RC.TENANT_ID).isin(tenants)
                   & F.col(RC.STATUS).isin([status.value for status in BLOCKING_STATUSES]))
            .select(RC.TENANT_ID, RC.STATUS, RC.STATUS_DETAIL, RC.BRONZE_VERSION).collect())
    return [FinalizeBlock(row[RC.TENANT_ID], "reconciliation", (
        f"tenant {row[RC.TENANT_ID]}: reconciliation of {period} is {row[RC.STATUS]} "
        f"(bronze version {row[RC.BRONZE_VERSION]}): {row[RC.STATUS_DETAIL]}")) for row in rows]


def describe_blocks(blocks: list[FinalizeBlock]) -> str:
    """Return the blocks as a JSON list, for logs and machine-readable output."""
    return json.dumps([block.__dict__ for block in blocks], sort_keys=True)
