"""Silver parsing and validation: every bad record gets its reason code."""

import json

from pipelines.silver.deduplicate import add_payload_hash
from pipelines.silver.parse import parse_events
from pipelines.silver.validate import add_validation_reasons
from tests.silver.helpers import bronze_rows, cloud_event


def reason_codes(spark, settings, values, key="acme"):
    checked = add_validation_reasons(add_payload_hash(parse_events(bronze_rows(spark, values, key=key))), settings)
    return [row["reason_code"] for row in checked.orderBy("offset").collect()]


def assert_reason_table(spark, settings, cases, key="acme"):
    """Validate all cases in one DataFrame (one Spark job) and compare per case."""
    values = [value for value, _ in cases]
    found = reason_codes(spark, settings, values, key=key)
    for (value, expected), actual in zip(cases, found):
        assert (str(value)[:60], actual) == (str(value)[:60], expected)


def test_valid_event_has_no_reason(spark, settings):
    assert reason_codes(spark, settings, [cloud_event()]) == [None]


UNPARSEABLE = [
        ('{"id": "e-1", "source": "t"', "MALFORMED_JSON"),
        ("", "MALFORMED_JSON"),
        ("not json", "MALFORMED_JSON"),
        ('{"id": "e-1"} trailing', "MALFORMED_JSON"),
        ('{"id":"e","source":"s","specversion":"1.0","type":"api.request","subject":"acme",'
         '"time":"2026-11-15T11:30:00Z","data":{"region":"eu","bytes_out":NaN}}', "MALFORMED_JSON"),
        (cloud_event()[:-1] + ', "id": "e-2"}', "MALFORMED_JSON"),
        (cloud_event(data={"region": "eu", "bytes_out": 5}).replace('"bytes_out": 5', '"bytes_out": 5, "bytes_out": 7'),
         "MALFORMED_JSON"),
        ("[1, 2]", "NOT_AN_OBJECT"),
        ('"a string"', "NOT_AN_OBJECT"),
        (None, "MALFORMED_JSON"),
]


def test_unparseable_records_are_quarantined(spark, settings):
    assert_reason_table(spark, settings, UNPARSEABLE)


ENVELOPE_PROBLEMS = [
        ({"id": None}, "MISSING_FIELD"),
        ({"time": ""}, "MISSING_FIELD"),
        ({"id": 7}, "INVALID_ATTRIBUTE_TYPE"),
        ({"subject": ["acme"]}, "INVALID_ATTRIBUTE_TYPE"),
        ({"time": 1763206200}, "INVALID_ATTRIBUTE_TYPE"),
        ({"specversion": 1.0}, "INVALID_ATTRIBUTE_TYPE"),
        ({"source": {"name": "test"}}, "INVALID_ATTRIBUTE_TYPE"),
        ({"type": True}, "INVALID_ATTRIBUTE_TYPE"),
        ({"specversion": "0.3"}, "UNSUPPORTED_SPEC_VERSION"),
        ({"id": "has space"}, "INVALID_EVENT_ID"),
        ({"id": "x" * 257}, "INVALID_EVENT_ID"),
        ({"type": "unknown.type"}, "UNKNOWN_EVENT_TYPE"),
        ({"time": "2026-11-15 11:30:00"}, "INVALID_TIME"),
        ({"time": "2026-11-15T11:30:00"}, "INVALID_TIME"),
        ({"time": "2026-02-30T11:30:00Z"}, "INVALID_TIME"),
        ({"time": "2026-07-01T00:00:00Z"}, "EVENT_TOO_OLD"),
        ({"time": "2026-11-15T12:05:01Z"}, "EVENT_IN_FUTURE"),
        ({"data": [1, 2]}, "INVALID_DATA"),
        ({"data": "text"}, "INVALID_DATA"),
]


def test_envelope_problems_have_reason_codes(spark, settings):
    cases = []
    for overrides, expected in ENVELOPE_PROBLEMS:
        envelope = json.loads(cloud_event())
        envelope.update(overrides)
        cases.append((json.dumps(envelope), expected))

    assert_reason_table(spark, settings, cases)


def test_repeated_key_and_numeric_id_say_why(spark, settings):
    repeated = cloud_event()[:-1] + ', "id": "e-2"}'
    numeric_id = json.dumps({**json.loads(cloud_event()), "id": 7, "time": 1763206200})

    checked = add_validation_reasons(parse_events(bronze_rows(spark, [repeated, numeric_id])), settings)
    reasons = [row["reasons"] for row in checked.orderBy("offset").collect()]

    assert reasons[0] == ["MALFORMED_JSON: the object names a key more than once, so which value counts is ambiguous; "
                          "send each key once"]
    assert reasons[1][0] == ("INVALID_ATTRIBUTE_TYPE: CloudEvents attributes must be JSON strings, not numbers, "
                             "booleans, arrays or objects: id, time")


def test_time_with_offset_is_stored_in_utc(spark, settings):
    value = cloud_event(time="2026-11-15T20:30:00+09:00")

    parsed = parse_events(bronze_rows(spark, [value])).collect()[0]

    assert parsed["event_time"].isoformat() == "2026-11-15T11:30:00"


HOSTILE_TENANTS = [
        ("../x", "INVALID_TENANT_ID"),
        ("a/b", "INVALID_TENANT_ID"),
        ("acme\n", "INVALID_TENANT_ID"),
        ("-acme", "INVALID_TENANT_ID"),
        ("a" * 129, "INVALID_TENANT_ID"),
        ("nobody", "UNKNOWN_TENANT"),
]


def test_hostile_or_unknown_tenants_are_quarantined(spark, settings):
    tenants = [tenant for tenant, _ in HOSTILE_TENANTS]
    values = [cloud_event(tenant=tenant) for tenant in tenants]

    found = reason_codes(spark, settings, values, key=lambda index: tenants[index])

    assert list(zip(tenants, found)) == HOSTILE_TENANTS


def test_empty_and_null_tenants_are_missing_fields(spark, settings):
    values = [cloud_event(tenant=""), cloud_event(tenant=None)]

    assert reason_codes(spark, settings, values, key=None) == ["MISSING_FIELD", "MISSING_FIELD"]


def test_key_must_equal_subject(spark, settings):
    assert reason_codes(spark, settings, [cloud_event(tenant="acme")], key="tenant-0001") == ["KEY_SUBJECT_MISMATCH"]


QUANTITIES = [
        (100, None),
        ("100.5", None),
        ("0.000000000001", None),
        (0, None),
        ("abc", "INVALID_QUANTITY"),
        (True, "INVALID_QUANTITY"),
        ({"v": 1}, "INVALID_QUANTITY"),
        ("NaN", "INVALID_QUANTITY"),
        ("Infinity", "INVALID_QUANTITY"),
        ("1e3", "INVALID_QUANTITY"),
        ("1.5E+2", "INVALID_QUANTITY"),
        ("0.0000000000001", "INVALID_QUANTITY"),
        (-1, "NEGATIVE_QUANTITY"),
        ("1000000000001", "QUANTITY_TOO_LARGE"),
        ("1" * 30, "QUANTITY_TOO_LARGE"),
        (int("1" * 29), "QUANTITY_TOO_LARGE"),
        ("1" * 27 + ".5", "QUANTITY_TOO_LARGE"),
        ("-" + "1" * 30, "NEGATIVE_QUANTITY"),
        (None, "MISSING_QUANTITY"),
]


def test_quantities_must_be_exact_decimals_in_range(spark, settings):
    values = [cloud_event(data={"region": "eu", "bytes_out": quantity}) for quantity, _ in QUANTITIES]

    found = reason_codes(spark, settings, values)

    assert list(zip([quantity for quantity, _ in QUANTITIES], found)) == QUANTITIES


def test_exponent_numbers_are_rejected_not_rounded(spark, settings):
    # JSON numbers, not strings: the VARIANT keeps them as DOUBLE, which is not exact.
    numbers = ["1e3", "1.5E+2", "2.5e-2", "1" + "0" * 40]
    values = [cloud_event(data={"region": "eu", "bytes_out": "NUMBER"}).replace('"NUMBER"', number) for number in numbers]

    found = reason_codes(spark, settings, values)

    assert found == ["INVALID_QUANTITY"] * len(numbers)


def test_every_problem_of_a_record_is_listed(spark, settings):
    value = cloud_event(tenant="nobody", event_type="api.request", specversion="2.0",
                        data={"region": "eu", "bytes_out": -5})

    checked = add_validation_reasons(parse_events(bronze_rows(spark, [value], key="nobody")), settings).collect()[0]

    assert [reason.split(":")[0] for reason in checked["reasons"]] == [
        "UNSUPPORTED_SPEC_VERSION", "UNKNOWN_TENANT", "NEGATIVE_QUANTITY"]
    assert checked["reason_code"] == "UNSUPPORTED_SPEC_VERSION"


def test_long_decimals_keep_every_digit(spark, settings):
    """JSON numbers keep their digits; an exponent that is not exact as plain decimal is rejected."""
    from pipelines.gold.aggregate import HOUR, aggregate_usage, meter_readings
    from pipelines.silver.stream import to_silver_rows

    values = [cloud_event("a", data={"region": "eu", "bytes_out": "NUMBER_A"}).replace('"NUMBER_A"', "0.0002355203"),
              cloud_event("b", data={"region": "eu", "bytes_out": "NUMBER_B"}).replace(
                  '"NUMBER_B"', "123456789.123456789012"),
              cloud_event("c", data={"region": "eu", "bytes_out": "NUMBER_C"}).replace('"NUMBER_C"', "1e-7")]
    checked = add_validation_reasons(add_payload_hash(parse_events(bronze_rows(spark, values))), settings)

    valid = checked.filter("reason_code IS NULL")
    usage = aggregate_usage(meter_readings(to_silver_rows(valid), settings.meters), HOUR)

    assert [row["reason_code"] for row in checked.orderBy("offset").collect()] == [None, None, "INVALID_QUANTITY"]
    egress = usage.filter("meter = 'egress_bytes'").collect()[0]["quantity"]
    assert str(egress) == "123456789.123692309312"
