"""OPTIMIZE and VACUUM every table without shortening the history an audit needs.

Before it compacts and vacuums a table, ``maintain_tables`` sets the table's
``delta.logRetentionDuration`` and ``delta.deletedFileRetentionDuration`` to
its configured window (see ``pipelines.audit.retention``), and VACUUM keeps
files for that same window. A retention shorter than a table's window is
rejected before anything runs, because VACUUM would delete the files of
versions that issued invoices record.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession

from pipelines.audit.errors import RetentionError
from pipelines.audit.history import tagged_commits
from pipelines.audit.retention import (
    ALL_TABLES,
    interval_days,
    retention_properties,
    retention_settings,
    table_named,
)
from pipelines.config import Settings
from pipelines.tables import delta_table, table_exists, table_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableMaintenance:
    """What ``maintain_tables`` did to one table."""

    table: str
    retention_days: int
    properties_changed: tuple[str, ...]
    files_compacted: int


def maintain_tables(spark: SparkSession, settings: Settings, tables: Sequence[str] | None = None,
                    retention_days: int | None = None) -> list[TableMaintenance]:
    """Set retention properties, OPTIMIZE and VACUUM ``tables`` (default: every existing table).

    ``retention_days`` overrides each table's configured window, but only to
    keep more history: a value shorter than any selected table's window raises
    ``RetentionError`` naming every such table, and nothing runs. Tables that
    do not exist yet are skipped.
    """
    windows = retention_settings(settings)
    selected = list(tables or ALL_TABLES)
    plan = {name: max(retention_days or 0, windows.days_for(name)) for name in selected}
    too_short = [f"{name} (window {windows.days_for(name)} days)" for name in selected
                 if retention_days is not None and retention_days < windows.days_for(name)]
    if too_short:
        raise RetentionError(
            f"retention of {retention_days} days is shorter than the window of {', '.join(too_short)}; VACUUM would "
            "delete the files of versions that issued invoices record, so audits could no longer rebuild them. "
            "Use at least the window, or shorten a layer's window in audit.layer_window_days (documents "
            f"keep audit.window_days = {windows.window_days} days)")

    results = []
    with tagged_commits(spark, "maintain", retention_days=retention_days or "configured"):
        for name in selected:
            table = table_named(name)
            if not table_exists(spark, settings, table):
                log.debug("maintain: %s does not exist at %s; skipped", name, table_path(settings, table))
                continue
            results.append(_maintain_table(spark, settings, name, plan[name]))
    return results


def _maintain_table(spark: SparkSession, settings: Settings, name: str, days: int) -> TableMaintenance:
    table = delta_table(spark, settings, table_named(name))
    changed = _set_retention(spark, settings, name, days)

    compaction = table.optimize().executeCompaction().collect()
    metrics = compaction[0]["metrics"] if compaction else None
    compacted = int(metrics["numFilesRemoved"]) if metrics is not None else 0

    # Files that any version inside the window still reads are kept.
    table.vacuum(days * 24)
    log.info("maintain: %s compacted %d files, vacuumed files older than %d days", name, compacted, days)
    return TableMaintenance(table=name, retention_days=days, properties_changed=tuple(changed),
                            files_compacted=compacted)


def _set_retention(spark: SparkSession, settings: Settings, name: str, days: int) -> list[str]:
    path = table_path(settings, table_named(name))
    current = {row["key"]: row["value"] for row in spark.sql(f"SHOW TBLPROPERTIES delta.`{path}`").collect()}
    wanted = retention_properties(days)
    changed = [key for key, value in wanted.items() if interval_days(current.get(key)) != days]
    for key in changed:
        if current.get(key) is not None and (interval_days(current.get(key)) or 0) < days:
            log.warning("maintain: %s had %s = %s, shorter than its %d-day window; set to the window",
                        name, key, current[key], days)
    if changed:
        assignments = ", ".join(f"'{key}' = '{wanted[key]}'" for key in changed)
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({assignments})")
    return changed
