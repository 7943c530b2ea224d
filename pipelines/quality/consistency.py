"""Spark checks that span two tables, recorded beside the great-expectations results.

gold_quantity_matches_silver recomputes the hourly windows from silver and
compares them with gold.usage_hourly key by key (tenant, meter, dimensions,
hour). Both sides are read at the versions passed in. A gold table that has
not caught up with silver therefore fails this check, so run it after the
gold stream.
"""

from __future__ import annotations

import json

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.config import Meter
from pipelines.gold.aggregate import HOUR, aggregate_usage, meter_readings
from pipelines.quality.validate import SAMPLE_KEYS, ExpectationFailure
from pipelines.quality.suites import BLOCKING_SEVERITY
from pipelines.vocabulary import Column as C

GOLD_MATCHES_SILVER = "gold_quantity_matches_silver"
GOLD_KEY = [C.TENANT_ID, C.METER, C.DIMENSIONS, C.WINDOW_START]
EXPECTED_QUANTITY = "expected_quantity"
GOLD_QUANTITY = "gold_quantity"


def gold_silver_differences(silver: DataFrame, gold_hourly: DataFrame, meters: tuple[Meter, ...]) -> DataFrame:
    """Gold keys whose quantity differs from silver's, or that only one side has.

    A NULL ``expected_quantity`` is a gold row that silver does not explain; a
    NULL ``gold_quantity`` is usage that gold lost.
    """
    expected = aggregate_usage(meter_readings(silver, list(meters)), HOUR).select(
        *GOLD_KEY, F.col(C.QUANTITY).alias(EXPECTED_QUANTITY))
    stored = gold_hourly.select(*GOLD_KEY, F.col(C.QUANTITY).alias(GOLD_QUANTITY))
    joined = expected.join(stored, GOLD_KEY, "full_outer")
    return joined.where(~F.col(EXPECTED_QUANTITY).eqNullSafe(F.col(GOLD_QUANTITY)))


def check_gold_matches_silver(silver: DataFrame, gold_hourly: DataFrame,
                              meters: tuple[Meter, ...]) -> tuple[int, list[ExpectationFailure]]:
    """Run the check; return (1, []) when gold matches, else (1, [failure])."""
    differences = gold_silver_differences(silver, gold_hourly, meters).orderBy(*GOLD_KEY)
    # Formatted in Spark, whose session time zone is UTC, because collected
    # timestamps would turn into the driver's local time.
    rows = differences.withColumn(C.WINDOW_START, F.date_format(C.WINDOW_START, "yyyy-MM-dd'T'HH:mm:ss'Z'")).collect()
    if not rows:
        return 1, []

    element_count = gold_hourly.count()
    samples = tuple(json.dumps({C.TENANT_ID: row[C.TENANT_ID], C.METER: row[C.METER], C.DIMENSIONS: row[C.DIMENSIONS],
                                C.WINDOW_START: row[C.WINDOW_START],
                                EXPECTED_QUANTITY: _text(row[EXPECTED_QUANTITY]),
                                GOLD_QUANTITY: _text(row[GOLD_QUANTITY])}, sort_keys=True)
                    for row in rows[:SAMPLE_KEYS])
    failure = ExpectationFailure(
        expectation=GOLD_MATCHES_SILVER, column=C.QUANTITY, severity=BLOCKING_SEVERITY,
        unexpected_count=len(rows), element_count=element_count,
        tenant_ids=tuple(sorted({row[C.TENANT_ID] for row in rows})), sample_keys=samples,
        detail=f"{len(rows)} gold hourly keys differ from the quantities recomputed from silver")
    return 1, [failure]


def _text(value) -> str | None:
    return None if value is None else str(value)
