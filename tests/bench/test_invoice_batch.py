"""The invoice-batch scenario: the month it bills, the pandas engine read in chunks, and a tiny run.

The tiny run publishes one month to a real broker, fills the lake through a
real ``stream --once`` subprocess and totals the month with all five engines.
"""

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from pipelines.bench import invoice_batch as scenario
from pipelines.bench.commands import SCALES
from pipelines.bench.environment import BenchEnvironment
from pipelines.bench.results import BenchResult
from pipelines.config import Meter
from pipelines.vocabulary import Aggregation

TOKENS = Meter("tokens", "com.example.llm.completion", Aggregation.SUM, "$.tokens", (), "token")
PEAK = Meter("peak_gb", "com.example.storage.snapshot", Aggregation.MAX, "$.gb", (), "GB")
CALLS = Meter("calls", "com.example.llm.completion", Aggregation.COUNT, None, (), "call")


def event(subject: str, event_id: str, event_type: str, **data) -> str:
    return json.dumps({"subject": subject, "id": event_id, "type": event_type, "data": data})


@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2026, 12, 5, 5, 44, tzinfo=timezone.utc), ("2026-11", datetime(2026, 11, 1, tzinfo=timezone.utc), 30 * 86400)),
    (datetime(2027, 1, 1, 0, 0, tzinfo=timezone.utc), ("2026-12", datetime(2026, 12, 1, tzinfo=timezone.utc), 31 * 86400)),
    (datetime(2028, 3, 31, 23, 59, tzinfo=timezone.utc), ("2028-02", datetime(2028, 2, 1, tzinfo=timezone.utc), 29 * 86400)),
    # Still 31 December in UTC, so the last whole month is November.
    (datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))),
     ("2026-11", datetime(2026, 11, 1, tzinfo=timezone.utc), 30 * 86400)),
])
def test_previous_month_last_whole_utc(now, expected):
    assert scenario.previous_month(now) == expected


def test_pandas_duplicate_in_later_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(scenario, "PANDAS_CHUNK_LINES", 2)
    raw = tmp_path / "raw.jsonl"
    raw.write_text("\n".join([
        event("t1", "a", TOKENS.event_type, tokens="0.000000000001"),
        event("t1", "b", TOKENS.event_type, tokens=5),
        # Same id as the first line, in the second chunk: dropped.
        event("t1", "a", TOKENS.event_type, tokens="0.000000000001"),
        event("t2", "a", TOKENS.event_type, tokens="1.5"),
        event("t1", "c", PEAK.event_type, gb="7.25"),
        event("t1", "d", PEAK.event_type, gb="7.5"),
        "",
    ]) + "\n", encoding="utf-8")

    totals = scenario.totals_with_pandas(raw, [TOKENS, PEAK, CALLS])

    assert totals == {
        ("t1", "tokens"): Decimal("5.000000000001"),
        ("t2", "tokens"): Decimal("1.5"),
        ("t1", "peak_gb"): Decimal("7.5"),
        ("t1", "calls"): Decimal(2),
        ("t2", "calls"): Decimal(1),
    }


def test_duckdb_pandas_agree(tmp_path):
    raw = tmp_path / "raw.jsonl"
    raw.write_text("\n".join([
        event("t1", "a", TOKENS.event_type, tokens="123456789012.000000000001"),
        event("t1", "a", TOKENS.event_type, tokens="123456789012.000000000001"),
        event("t1", "b", TOKENS.event_type, tokens="0.1"),
        event("t1", "c", PEAK.event_type, gb="0.2"),
    ]) + "\n", encoding="utf-8")

    with_duckdb = scenario.totals_with_duckdb(raw, [TOKENS, PEAK, CALLS])

    assert with_duckdb == scenario.totals_with_pandas(raw, [TOKENS, PEAK, CALLS])
    assert with_duckdb[("t1", "tokens")] == Decimal("123456789012.100000000001")
    assert with_duckdb[("t1", "calls")] == Decimal(2)


def test_count_differences_missing_extra_changed():
    expected = {("t1", "tokens"): Decimal("1.0"), ("t1", "calls"): Decimal(2), ("t2", "tokens"): Decimal(3)}
    actual = {("t1", "tokens"): Decimal("1.000"), ("t1", "calls"): Decimal(3), ("t3", "tokens"): Decimal(3)}

    assert scenario.count_differences(expected, actual) == 3


@pytest.mark.kafka
@pytest.mark.slow
def test_invoice_batch_tiny_run(tmp_path, spark, monkeypatch):
    # Small chunks, so the tiny run crosses chunk boundaries as the full one does.
    monkeypatch.setattr(scenario, "PANDAS_CHUNK_LINES", 3_000)
    scale = SCALES["tiny"]["invoice-batch"]
    result = BenchResult(scenario="invoice-batch", scale="tiny", command="pytest")
    environment = BenchEnvironment(tmp_path / "run")
    try:
        scenario.invoice_batch(lambda: spark, environment, scale, result)
    finally:
        environment.close()

    figures = result.figures
    meters = scenario.rolled_up_meters(environment.settings)
    assert result.billing_exact is True
    assert figures["period"] == scenario.previous_month(datetime.now(timezone.utc))[0]
    assert figures["published"] == figures["records"]
    assert figures["records"] == figures["events"] + figures["duplicates"]
    assert figures["duplicates"] > 0
    assert set(figures["rows_differing_from_ground_truth"]) == {"ground_truth", "spark_silver", "spark_gold",
                                                                "duckdb_raw", "pandas_raw"}
    assert set(figures["rows_differing_from_ground_truth"].values()) == {0}
    assert figures["monthly_rows"] > 0
    assert figures["monthly_rows"] <= scale["tenants"][0] * len(meters)
    assert figures["raw_events_bytes"] > figures["records"] * 100
    assert Decimal(figures["grand_total_quantity"]) > 0
    assert figures["invoices"]["invoices"] == scale["tenants"][0]
    assert all(seconds > 0 for seconds in figures["seconds"].values())
