"""The real data sets under ``data/``, their integrity check and the target month.

Each data set folder contains the upstream files unchanged, a README with source,
licence (CC BY 4.0) and attribution, and ``SHA256SUMS``. A replay verifies every
listed digest before it reads a byte of data.
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from pipelines.config import PROJECT_ROOT
from pipelines.load.errors import DataSetError, LoadError

DATA_ROOT = PROJECT_ROOT / "data"
# Both replays need a month of at least 30 days: the FOCUS sample covers all of
# September 2024, day 30 included.
MIN_TARGET_MONTH_DAYS = 30


@dataclass(frozen=True)
class DataSet:
    """A data set folder under ``data/``."""

    name: str
    folder: str

    def path(self, data_root: Path = DATA_ROOT) -> Path:
        return data_root / self.folder


GOOGLE_CLUSTER = DataSet("google-cluster", "google-clusterdata-2011-task-events")
FOCUS = DataSet("focus", "focus-1.0-sample")
DATA_SETS = {data_set.name: data_set for data_set in (GOOGLE_CLUSTER, FOCUS)}


def verify_data_set(data_set: DataSet, data_root: Path = DATA_ROOT) -> list[Path]:
    """Check every file listed in the folder's ``SHA256SUMS``; return their paths.

    Raises ``DataSetError`` naming every missing or mismatching file at once.
    """
    folder = data_set.path(data_root)
    sums_file = folder / "SHA256SUMS"
    if not sums_file.exists():
        raise DataSetError(f"data set {data_set.name}: {sums_file} not found; "
                           f"the folder must hold the upstream files and their SHA256SUMS")

    problems, paths = [], []
    for line_number, line in enumerate(sums_file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        expected, _, name = line.partition("  ")
        path = folder / name.strip()
        paths.append(path)
        if not path.exists():
            problems.append(f"{path} (line {line_number} of SHA256SUMS) is missing")
            continue
        actual = _sha256(path)
        if actual != expected.strip():
            problems.append(f"{path}: expected SHA-256 {expected.strip()}, found {actual}")
    if problems:
        raise DataSetError(f"data set {data_set.name} failed verification: " + "; ".join(problems))
    return paths


def parse_month(text: str) -> date:
    """Parse ``YYYY-MM`` to the first day of that month."""
    try:
        parsed = datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise LoadError(f"--month must look like 2024-11 (YYYY-MM), found {text!r}") from None
    return parsed.date().replace(day=1)


def default_target_month(today: date) -> date:
    """Return the most recent complete month with at least 30 days before ``today``.

    >>> default_target_month(date(2025, 3, 15))
    datetime.date(2025, 1, 1)
    """
    year, month = today.year, today.month
    while True:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        if calendar.monthrange(year, month)[1] >= MIN_TARGET_MONTH_DAYS:
            return date(year, month, 1)


def month_start(month: date) -> datetime:
    """Return 00:00 UTC on the first day of ``month``."""
    return datetime(month.year, month.month, 1, tzinfo=timezone.utc)


def validate_target_month(month: date) -> None:
    days = calendar.monthrange(month.year, month.month)[1]
    if days < MIN_TARGET_MONTH_DAYS:
        raise LoadError(f"--month {month:%Y-%m} has {days} days; replays need a month of at least "
                        f"{MIN_TARGET_MONTH_DAYS} days because the FOCUS sample covers 30 days")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
