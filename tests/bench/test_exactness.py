"""Exact comparison of gold rows with the generator's ground truth."""

from datetime import datetime, timezone
from decimal import Decimal

from pipelines.bench.exactness import compare_usage, read_ground_truth
from pipelines.load.ground_truth import UsageTotal, write_ground_truth

HOUR = "2026-11-01T05:00:00Z"
EGRESS = ("tenant-0001", "egress_bytes", '{"region":"eu-west-1"}', HOUR)
STORAGE = ("tenant-0001", "storage_gb", "{}", HOUR)
REQUESTS = ("tenant-0002", "api_requests", '{"region":"us-east-1"}', HOUR)


def test_identical_rows_are_exact():
    expected = {EGRESS: (Decimal("12.5"), 2), STORAGE: (Decimal("0.000000000001"), 1)}
    # Gold stores DECIMAL(38, 12), so the same values come back with trailing zeros.
    gold = {EGRESS: (Decimal("12.500000000000"), 2), STORAGE: (Decimal("0.000000000001"), 1)}

    report = compare_usage(expected, gold)

    assert report.is_exact
    assert report.to_dict()["different_rows"] == 0


def test_one_unit_in_last_digit_is_detected():
    expected = {STORAGE: (Decimal("7.000000000001"), 1)}
    gold = {STORAGE: (Decimal("7.000000000002"), 1)}

    report = compare_usage(expected, gold)

    assert not report.is_exact
    assert report.different == [(STORAGE, (Decimal("7.000000000001"), 1), (Decimal("7.000000000002"), 1))]
    assert report.quantity_difference == Decimal("0.000000000001")


def test_one_unit_in_integer_quantity_is_detected():
    report = compare_usage({REQUESTS: (Decimal(1000), 1000)}, {REQUESTS: (Decimal(1001), 1000)})

    assert not report.is_exact
    assert report.to_dict()["quantity_difference"] == "1"


def test_event_count_difference_is_detected():
    report = compare_usage({REQUESTS: (Decimal(3), 3)}, {REQUESTS: (Decimal(3), 4)})

    assert not report.is_exact
    assert len(report.different) == 1


def test_missing_and_unexpected_rows_are_listed():
    report = compare_usage({EGRESS: (Decimal(1), 1)}, {REQUESTS: (Decimal(1), 1)})

    assert report.missing == [EGRESS]
    assert report.unexpected == [REQUESTS]
    assert not report.is_exact


def test_ground_truth_csv_reads_back_exactly(tmp_path):
    hour = datetime(2026, 11, 1, 5, tzinfo=timezone.utc)
    rows = [UsageTotal("tenant-0001", "storage_gb", "{}", hour, Decimal("0.000000000001"), 1),
            UsageTotal("tenant-0001", "egress_bytes", '{"region":"eu-west-1"}', hour, Decimal("12.5"), 2)]
    write_ground_truth(rows, tmp_path / "truth.csv")

    truth = read_ground_truth(tmp_path / "truth.csv")

    assert truth == {STORAGE: (Decimal("0.000000000001"), 1), EGRESS: (Decimal("12.5"), 2)}


def test_daily_difference_breaks_exactness():
    report = compare_usage({}, {})
    report.daily_rows_differing = 1

    assert not report.is_exact
    assert report.to_dict()["daily_rows_differing_from_silver"] == 1
