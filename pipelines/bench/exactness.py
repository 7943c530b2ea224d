"""Exact comparison of ``gold.usage_hourly`` with the generator's ground truth.

``gold.usage_daily`` is compared with the days aggregated from the whole of
silver instead, because distinct counts in the ground truth do not add up
from hours to days.

Rows match on (tenant_id, meter, dimensions, window_start). Quantities compare
as ``Decimal`` values, so ``12.5`` in the CSV equals ``12.500000000000`` read
from the DECIMAL(38, 12) column, and any other difference, one unit in the
twelfth fractional digit included, is a mismatch. Event counts compare exactly.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.config import Settings
from pipelines.gold.aggregate import DAY, aggregate_usage, meter_readings
from pipelines.schemas import GOLD_USAGE
from pipelines.tables import read_table, table_exists
from pipelines.vocabulary import Column as C
from pipelines.vocabulary import Table

UsageKey = tuple[str, str, str, str]
UsageValue = tuple[Decimal, int]
MAX_LISTED_DIFFERENCES = 10


@dataclass
class ExactnessReport:
    """Differences between gold and the ground truth; ``is_exact`` is true only when every list is empty."""

    expected_rows: int
    actual_rows: int
    missing: list[UsageKey] = field(default_factory=list)
    unexpected: list[UsageKey] = field(default_factory=list)
    different: list[tuple[UsageKey, UsageValue, UsageValue]] = field(default_factory=list)
    daily_rows_differing: int = 0

    @property
    def is_exact(self) -> bool:
        return not (self.missing or self.unexpected or self.different or self.daily_rows_differing)

    @property
    def quantity_difference(self) -> Decimal:
        """Sum of (gold - expected) quantities over rows present on both sides."""
        return sum((actual[0] - expected[0] for _, expected, actual in self.different), Decimal(0))

    def to_dict(self) -> dict:
        return {
            "exact": self.is_exact,
            "expected_rows": self.expected_rows,
            "gold_rows": self.actual_rows,
            "missing_rows": len(self.missing),
            "unexpected_rows": len(self.unexpected),
            "different_rows": len(self.different),
            "daily_rows_differing_from_silver": self.daily_rows_differing,
            "quantity_difference": format(self.quantity_difference, "f"),
            "first_differences": [
                {"key": list(key), "expected": [format(expected[0], "f"), expected[1]],
                 "gold": [format(actual[0], "f"), actual[1]]}
                for key, expected, actual in self.different[:MAX_LISTED_DIFFERENCES]
            ],
            "first_missing": [list(key) for key in self.missing[:MAX_LISTED_DIFFERENCES]],
            "first_unexpected": [list(key) for key in self.unexpected[:MAX_LISTED_DIFFERENCES]],
        }


def read_ground_truth(path: Path) -> dict[UsageKey, UsageValue]:
    """Read a CSV written by ``write_ground_truth`` into key -> (quantity, event_count)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            (row[C.TENANT_ID], row[C.METER], row[C.DIMENSIONS], row[C.WINDOW_START]):
                (Decimal(row[C.QUANTITY]), int(row[C.EVENT_COUNT]))
            for row in csv.DictReader(handle)
        }


def read_gold_hourly(spark: SparkSession, settings: Settings) -> dict[UsageKey, UsageValue]:
    """Read ``gold.usage_hourly`` with quantities as exact decimal strings, never floats."""
    if not table_exists(spark, settings, Table.GOLD_HOURLY):
        return {}
    rows = read_table(spark, settings, Table.GOLD_HOURLY).select(
        C.TENANT_ID, C.METER, C.DIMENSIONS,
        F.date_format(C.WINDOW_START, "yyyy-MM-dd'T'HH:00:00'Z'").alias(C.WINDOW_START),
        F.col(C.QUANTITY).cast("string").alias(C.QUANTITY), C.EVENT_COUNT,
    )
    return {
        (row[C.TENANT_ID], row[C.METER], row[C.DIMENSIONS], row[C.WINDOW_START]):
            (Decimal(row[C.QUANTITY]), int(row[C.EVENT_COUNT]))
        for row in rows.toLocalIterator()
    }


def compare_usage(expected: dict[UsageKey, UsageValue], actual: dict[UsageKey, UsageValue]) -> ExactnessReport:
    """Compare expected and actual hourly usage row by row, exactly."""
    report = ExactnessReport(expected_rows=len(expected), actual_rows=len(actual))
    report.missing = sorted(expected.keys() - actual.keys())
    report.unexpected = sorted(actual.keys() - expected.keys())
    for key in sorted(expected.keys() & actual.keys()):
        if expected[key] != actual[key]:
            report.different.append((key, expected[key], actual[key]))
    return report


def count_daily_rows_differing(spark: SparkSession, settings: Settings) -> int:
    """Count ``gold.usage_daily`` rows absent from, or different in, the days aggregated from silver, both ways."""
    if not table_exists(spark, settings, Table.SILVER_EVENTS):
        return 0
    columns = [field.name for field in GOLD_USAGE.fields]
    silver = read_table(spark, settings, Table.SILVER_EVENTS)
    expected = aggregate_usage(meter_readings(silver, settings.meters), DAY).select(columns)
    if not table_exists(spark, settings, Table.GOLD_DAILY):
        return expected.count()
    actual = read_table(spark, settings, Table.GOLD_DAILY).select(columns)
    return expected.exceptAll(actual).count() + actual.exceptAll(expected).count()


def check_gold_against_ground_truth(spark: SparkSession, settings: Settings, ground_truth: Path) -> ExactnessReport:
    """Compare the lake's ``gold.usage_hourly`` with a ground-truth CSV, and its daily rows with silver."""
    report = compare_usage(read_ground_truth(ground_truth), read_gold_hourly(spark, settings))
    report.daily_rows_differing = count_daily_rows_differing(spark, settings)
    return report
