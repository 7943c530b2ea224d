"""Expected gold totals: exact aggregation semantics and a tiny seeded load."""

import json
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from pipelines.config import Meter
from pipelines.load.errors import LoadError
from pipelines.load.events import UsageEvent
from pipelines.load.generator import LoadProfile, generate_load
from pipelines.load.ground_truth import UsageTotal, UsageTotals, render_dimensions, write_ground_truth
from pipelines.vocabulary import Aggregation

METERS = (
    Meter("egress_bytes", "api.request", Aggregation.SUM, "$.bytes_out", ("region",), "byte"),
    Meter("api_requests", "api.request", Aggregation.COUNT, None, ("region",), "request"),
    Meter("peak_concurrency", "compute.usage", Aggregation.MAX, "$.concurrency", (), "session"),
    Meter("active_users", "compute.usage", Aggregation.UNIQUE_COUNT, "$.user_id", (), "user"),
    Meter("storage_gb", "storage.snapshot", Aggregation.LATEST, "$.stored_gb", (), "GB"),
)
HOUR_5 = datetime(2024, 11, 1, 5, tzinfo=timezone.utc)
HOUR_4 = datetime(2024, 11, 1, 4, tzinfo=timezone.utc)


def event(event_id, event_type, minute, data, tenant_id="tenant-0001", hour=5):
    return UsageEvent(tenant_id, event_id, event_type, datetime(2024, 11, 1, hour, minute, tzinfo=timezone.utc),
                      data, "test")


def quantities(totals):
    return {(row.tenant_id, row.meter, row.dimensions, row.window_start): (row.quantity, row.event_count)
            for row in totals}


def test_totals_follow_gold_aggregations():
    totals = UsageTotals(METERS)
    for item in [
        event("a", "api.request", 1, {"region": "eu-west-1", "bytes_out": Decimal("0.000000000001")}),
        event("b", "api.request", 2, {"region": "eu-west-1", "bytes_out": 7}),
        event("c", "api.request", 3, {"bytes_out": Decimal("2.5")}),
        event("d", "compute.usage", 4, {"concurrency": 3, "user_id": "u1"}),
        event("e", "compute.usage", 5, {"concurrency": 12, "user_id": "u2"}),
        event("f", "compute.usage", 6, {"concurrency": 5, "user_id": "u1"}),
        # LATEST: "h" and "g" share the greatest time, and "h" wins the tie by id.
        event("h", "storage.snapshot", 30, {"stored_gb": Decimal("1.000000000001")}),
        event("g", "storage.snapshot", 30, {"stored_gb": Decimal("9")}),
        event("i", "storage.snapshot", 10, {"stored_gb": Decimal("100")}),
        # Late: an earlier hour gets its own row.
        event("j", "storage.snapshot", 59, {"stored_gb": Decimal("4")}, hour=4),
    ]:
        totals.add(item)

    assert quantities(totals.totals()) == {
        ("tenant-0001", "active_users", "{}", HOUR_5): (Decimal(2), 3),
        ("tenant-0001", "api_requests", "{}", HOUR_5): (Decimal(1), 1),
        ("tenant-0001", "api_requests", '{"region":"eu-west-1"}', HOUR_5): (Decimal(2), 2),
        ("tenant-0001", "egress_bytes", "{}", HOUR_5): (Decimal("2.5"), 1),
        ("tenant-0001", "egress_bytes", '{"region":"eu-west-1"}', HOUR_5): (Decimal("7.000000000001"), 2),
        ("tenant-0001", "peak_concurrency", "{}", HOUR_5): (Decimal(12), 3),
        ("tenant-0001", "storage_gb", "{}", HOUR_4): (Decimal(4), 1),
        ("tenant-0001", "storage_gb", "{}", HOUR_5): (Decimal("1.000000000001"), 3),
    }


def test_totals_keep_tenants_apart():
    totals = UsageTotals(METERS)

    totals.add(event("same-id", "compute.usage", 1, {"concurrency": 1, "user_id": "u1"}, tenant_id="tenant-0001"))
    totals.add(event("same-id", "compute.usage", 1, {"concurrency": 2, "user_id": "u1"}, tenant_id="tenant-0002"))

    result = quantities(totals.totals())
    assert result[("tenant-0001", "peak_concurrency", "{}", HOUR_5)] == (Decimal(1), 1)
    assert result[("tenant-0002", "peak_concurrency", "{}", HOUR_5)] == (Decimal(2), 1)


def test_dimensions_render_like_spark_to_json():
    assert render_dimensions(("region", "zone"), {"zone": "b", "region": "eu-west-1"}) == (
        '{"region":"eu-west-1","zone":"b"}')
    assert render_dimensions(("region", "zone"), {"zone": None}) == "{}"
    assert render_dimensions((), {"region": "x"}) == "{}"
    assert render_dimensions(("scheduling_class",), {"scheduling_class": 3}) == '{"scheduling_class":"3"}'


def test_ground_truth_csv_format(tmp_path):
    rows = [UsageTotal("tenant-0001", "storage_gb", '{"region":"eu-west-1"}', HOUR_5, Decimal("1.500000000000"), 2)]

    write_ground_truth(rows, tmp_path / "truth.csv")

    assert (tmp_path / "truth.csv").read_text() == (
        "tenant_id,meter,dimensions,window_start,quantity,event_count\n"
        'tenant-0001,storage_gb,"{""region"":""eu-west-1""}",2024-11-01T05:00:00Z,1.500000000000,2\n')


TINY_PROFILE = LoadProfile(tenants=2, rate=1.0, duration_seconds=20, start=datetime(2024, 11, 1, 5, tzinfo=timezone.utc),
                           duplicate_ratio=0.3, late_ratio=0.3, malformed_ratio=0.0, seed=7)


def decode(record):
    return json.loads(record.value, parse_float=Decimal, parse_int=int)


def test_seeded_load_is_deterministic():
    first = generate_load(TINY_PROFILE, METERS)

    second = generate_load(TINY_PROFILE, METERS)

    assert [record.value for record in first.records] == [record.value for record in second.records]
    assert first.totals == second.totals


def test_seeded_load_counts():
    # A snapshot of seed 7: any change to the generator's random draws changes it.
    load = generate_load(TINY_PROFILE, METERS)

    assert load.summary.to_dict() == {
        "records": 76, "events": 59, "late_events": 12, "duplicates": 17, "malformed": 0,
        "malformed_by_reason": {}, "malformed_by_kind": {},
    }
    assert len(load.records) == 76


def test_seeded_load_duplicates_are_byte_identical_redeliveries():
    load = generate_load(TINY_PROFILE, METERS)

    values = Counter(record.value for record in load.records)
    ids = Counter((decode(record)["subject"], decode(record)["id"]) for record in load.records)

    assert sum(count - 1 for count in values.values()) == load.summary.duplicates
    assert sum(count - 1 for count in ids.values()) == load.summary.duplicates
    assert all(record.key == decode(record)["subject"].encode() for record in load.records)


def test_seeded_load_totals_count_each_event_once():
    load = generate_load(TINY_PROFILE, METERS)
    unique = {(envelope["subject"], envelope["id"]): envelope for envelope in map(decode, load.records)}

    recomputed = UsageTotals(METERS)
    for envelope in unique.values():
        time = datetime.fromisoformat(envelope["time"].replace("Z", "+00:00"))
        recomputed.add(UsageEvent(envelope["subject"], envelope["id"], envelope["type"], time, envelope["data"],
                                  envelope["source"]))

    assert len(unique) == load.summary.events
    assert recomputed.totals() == load.totals


def test_seeded_load_late_events_land_in_earlier_hours():
    load = generate_load(TINY_PROFILE, METERS)

    hours = sorted({row.window_start for row in load.totals})

    assert hours[-1] == TINY_PROFILE.start
    assert all(hour < TINY_PROFILE.start for hour in hours[:-1])
    assert sum(row.event_count for row in load.totals if row.window_start < TINY_PROFILE.start
               and row.meter in ("api_requests", "peak_concurrency", "storage_gb")) == load.summary.late_events


def test_malformed_records_are_counted_by_reason():
    profile = LoadProfile(tenants=3, rate=2.0, duration_seconds=30, start=TINY_PROFILE.start,
                          duplicate_ratio=0.0, late_ratio=0.0, malformed_ratio=0.5, seed=11)

    load = generate_load(profile, METERS)

    summary = load.summary
    assert summary.records == summary.events + summary.malformed
    assert sum(summary.malformed_by_reason().values()) == summary.malformed
    assert sum(row.event_count for row in load.totals
               if row.meter in ("api_requests", "peak_concurrency", "storage_gb")) == summary.events


def test_profile_reports_every_invalid_option():
    profile = LoadProfile(tenants=1001, rate=0, duration_seconds=0, start=TINY_PROFILE.start, late_ratio=1.0)

    with pytest.raises(LoadError) as error:
        profile.validate()

    message = str(error.value)
    assert "--tenants must be between 1 and 1000" in message
    assert "--rate must be a positive number" in message
    assert "--duration must be a positive number" in message
    assert "--late must be a fraction in [0, 1), found 1.0" in message
