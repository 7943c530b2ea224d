"""The billing job: compute, write and finalize a period's invoices; re-rate without writing."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from pyspark.sql import SparkSession

from pipelines.billing.compute import InvoiceRun, compute_invoices, gather_inputs, rate_gathered
from pipelines.billing.documents import finalize_invoices, write_documents
from pipelines.billing.plans import load_plans
from pipelines.config import Settings
from pipelines.errors import BillingError, ConfigError

log = logging.getLogger(__name__)

DEFAULT_GRACE_HOURS = 48
# 8760 hours is one year, so a longer wait would hold invoices open for more
# than a year. Values above timedelta's range (about 2.4e10 hours) would also
# raise OverflowError.
MAX_GRACE_HOURS = 8760

__all__ = ["compute_invoices", "write_invoices", "rerate_invoices", "WriteResult", "TenantDifference"]


@dataclass(frozen=True)
class WriteResult:
    written: tuple[str, ...]
    finalized: tuple[dict, ...]


def grace_period(settings: Settings, grace_hours: float | None) -> timedelta:
    """Return the wait after a period's end before its invoices may be finalized.

    ``billing.grace_hours`` in the environment file sets the default (48 hours),
    so that late events still inside ingest's limits reach the draft first.
    ``grace_hours`` (the ``--grace-hours`` option) overrides it. Raises
    ``BillingError`` for an invalid option and ``ConfigError`` for an invalid
    setting: both must be finite hours from 0 to ``MAX_GRACE_HOURS``.
    """
    if grace_hours is not None:
        problem = grace_hours_problem(grace_hours)
        if problem:
            raise BillingError(f"--grace-hours {problem}, found {grace_hours!r}")
        return timedelta(hours=float(grace_hours))
    configured = settings.billing.get("grace_hours", DEFAULT_GRACE_HOURS)
    problem = grace_hours_problem(configured)
    if problem:
        raise ConfigError(str(settings.source), [f"billing.grace_hours {problem}, found {configured!r}"])
    return timedelta(hours=float(configured))


def grace_hours_problem(value: object) -> str | None:
    """Return why ``value`` is not a valid number of grace hours, or None when it is valid.

    Accepts numbers and numeric strings, because ``--set billing.grace_hours=24`` passes a string.
    """
    if isinstance(value, bool):
        return "must be a number of hours"
    try:
        hours = float(value)
    except (TypeError, ValueError):
        return "must be a number of hours"
    except OverflowError:
        hours = math.inf
    if not math.isfinite(hours) or not 0 <= hours <= MAX_GRACE_HOURS:
        return f"must be a finite number of hours from 0 to {MAX_GRACE_HOURS}"
    return None


def write_invoices(
    spark: SparkSession,
    settings: Settings,
    run: InvoiceRun,
    finalize: bool = False,
    grace: timedelta | None = None,
    now: datetime | None = None,
    tenant_ids: Iterable[str] | None = None,
) -> WriteResult:
    """Upsert the run's drafts and, with ``finalize``, finalize those past the grace period.

    Idempotent: running it twice for the same period leaves one invoice per
    tenant and period. ``now`` must be an aware datetime; it defaults to the
    clock and is only read to decide the grace period and stamp finalized_at.
    """
    written = write_documents(spark, settings, run.documents)
    log.info("period %s: %d drafts written (silver v%s, gold v%s), %d closed invoices left as they are",
             run.period, len(written), run.versions.silver, run.versions.gold, len(run.closed))
    finalized: list[dict] = []
    if finalize:
        now = now or datetime.now().astimezone()
        scope = tenant_ids if tenant_ids is not None else [document.header["tenant_id"] for document in run.documents]
        if grace is None:
            grace = grace_period(settings, None)
        elif grace < timedelta(0):
            raise BillingError(f"grace must not be negative, found {grace}")
        finalized = finalize_invoices(spark, settings, run.period, scope, grace, now)
        if finalized:
            from pipelines.audit.ledger import append_documents

            append_documents(spark, settings, finalized)
    return WriteResult(written=tuple(written), finalized=tuple(finalized))


@dataclass(frozen=True)
class TenantDifference:
    tenant_id: str
    currency: str
    current_total: Decimal
    rerated_total: Decimal

    @property
    def difference(self) -> Decimal:
        return self.rerated_total - self.current_total


def rerate_invoices(
    spark: SparkSession,
    settings: Settings,
    period: str,
    price_book: Path,
    tenant_ids: Iterable[str] | None = None,
) -> list[TenantDifference]:
    """Price ``period`` with the configured price books and with ``price_book``; write nothing.

    Usage is read once and rated twice, so the differences come from prices only.
    """
    current = load_plans(settings.plans_path, settings.meters)
    rerated = load_plans(settings.plans_path, settings.meters, price_book)
    gathered = gather_inputs(spark, settings, period, tenant_ids, current)
    before = rate_gathered(settings, gathered, current).rated
    after = rate_gathered(settings, gathered, rerated).rated
    return [TenantDifference(tenant_id=tenant_id, currency=before[tenant_id].currency,
                             current_total=before[tenant_id].total, rerated_total=after[tenant_id].total)
            for tenant_id in sorted(before)]
