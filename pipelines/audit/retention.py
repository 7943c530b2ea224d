"""Retention windows: how long each table keeps the history an audit reads.

One setting, ``audit.window_days`` in the environment file (default 2555 days,
about 7 years), fixes how long invoices, invoice lines and the ledger keep
their Delta log and their removed data files. Other tables may keep a shorter
history with ``audit.layer_window_days``, keyed by layer (``bronze``) or by
table (``silver.usage_events``)::

    audit:
      window_days: 2555
      layer_window_days:
        bronze: 30
        silver: 400

A table's window becomes two Delta table properties,
``delta.logRetentionDuration`` (how long commits stay in the log, so time
travel can find a version) and ``delta.deletedFileRetentionDuration`` (how
long VACUUM keeps files that a version still reads). An invoice whose usage
versions fall outside the silver or gold window can still be checked against
the export of its period, but no longer rebuilt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from pipelines.audit.errors import AuditError
from pipelines.config import Settings
from pipelines.errors import ConfigError
from pipelines.vocabulary import Table

DEFAULT_WINDOW_DAYS = 2555
LOG_RETENTION = "delta.logRetentionDuration"
DELETED_FILE_RETENTION = "delta.deletedFileRetentionDuration"
INTERVAL_PATTERN = re.compile(r"^interval\s+(\d+)\s+(day|days|hour|hours)$", re.IGNORECASE)


class AuditTable(str, Enum):
    """Tables the audit package owns; named like ``Table`` so ``table_path`` accepts them."""

    INVOICE_LEDGER = "audit.invoice_ledger"


# Tables that hold issued documents or their proof. Their window can never be
# shorter than audit.window_days, because an issued invoice must stay
# provable for as long as it can be audited.
DOCUMENT_TABLES = (Table.GOLD_INVOICES.value, Table.GOLD_INVOICE_LINES.value, AuditTable.INVOICE_LEDGER.value)
ALL_TABLES = tuple(table.value for table in Table) + (AuditTable.INVOICE_LEDGER.value,)


@dataclass(frozen=True)
class RetentionSettings:
    """The audit window and the shorter windows configured for other tables, in days."""

    window_days: int
    layer_window_days: dict[str, int] = field(default_factory=dict)

    def days_for(self, table: str) -> int:
        """Return the retention window of ``table`` (a logical name such as ``gold.invoices``)."""
        if table in DOCUMENT_TABLES:
            return self.window_days
        layer = table.split(".", 1)[0]
        return self.layer_window_days.get(table, self.layer_window_days.get(layer, self.window_days))


def retention_settings(settings: Settings) -> RetentionSettings:
    """Read and validate the ``audit`` section of the environment file.

    Raises ``ConfigError`` listing every problem: a window that is not a
    positive whole number of days, an unknown layer or table, or a window for a
    document table that is shorter than ``audit.window_days``.
    """
    raw = settings.raw.get("audit") or {}
    problems: list[str] = []
    window_days = _positive_days(raw.get("window_days", DEFAULT_WINDOW_DAYS), "audit.window_days", problems)
    layers = {}
    known = set(ALL_TABLES) | {name.split(".", 1)[0] for name in ALL_TABLES}
    for key, value in (raw.get("layer_window_days") or {}).items():
        where = f"audit.layer_window_days.{key}"
        days = _positive_days(value, where, problems)
        if key not in known:
            problems.append(f"{where}: unknown layer or table; expected one of {sorted(known)}")
        elif key in DOCUMENT_TABLES and days < window_days:
            problems.append(f"{where}: {days} days is shorter than audit.window_days ({window_days}); "
                            "issued documents must stay provable for the whole audit window")
        layers[str(key)] = days
    if problems:
        raise ConfigError(str(settings.source), problems)
    return RetentionSettings(window_days=window_days, layer_window_days=layers)


def table_named(name: str) -> Table | AuditTable:
    """Return the table whose logical name is ``name`` (``gold.invoices``, ``audit.invoice_ledger``)."""
    for table in (*Table, *AuditTable):
        if table.value == name:
            return table
    raise AuditError(f"unknown table {name!r}; expected one of {list(ALL_TABLES)}")


def retention_properties(days: int) -> dict[str, str]:
    """Return the Delta table properties that keep ``days`` of history."""
    interval = f"interval {days} days"
    return {LOG_RETENTION: interval, DELETED_FILE_RETENTION: interval}


def interval_days(value: str | None) -> float | None:
    """Return a Delta ``interval N days`` (or ``hours``) property value in days; None when unset or unparsed."""
    if value is None:
        return None
    match = INTERVAL_PATTERN.match(value.strip())
    if not match:
        return None
    amount = int(match.group(1))
    return float(amount) if match.group(2).lower().startswith("day") else amount / 24


def export_manifest_path(settings: Settings, period: str) -> str:
    """Return where the export job writes the manifest of ``period`` (YYYY-MM)."""
    return f"{settings.exports_root.rstrip('/')}/{period}/manifest.json"


def _positive_days(value, where: str, problems: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() or int(value) <= 0:
        problems.append(f"{where}: expected a positive whole number of days, found {value!r}")
        return DEFAULT_WINDOW_DAYS
    return int(value)
