"""Load profile limits: every load is finite and fails validation before any work starts."""

import math
from datetime import datetime, timedelta, timezone

import pytest

from pipelines.load.errors import LoadError
from pipelines.load.generator import (
    MAX_DURATION_SECONDS,
    MAX_EXPECTED_EVENTS,
    MAX_RATE,
    LoadProfile,
    default_start,
)

START = datetime(2024, 11, 1, 5, tzinfo=timezone.utc)


def validation_message(**options):
    profile = LoadProfile(**{"tenants": 2, "rate": 1.0, "duration_seconds": 20, "start": START, **options})
    with pytest.raises(LoadError) as error:
        profile.validate()
    return str(error.value)


@pytest.mark.parametrize("rate", [math.inf, -math.inf, math.nan, 0.0, -1.0, MAX_RATE * 1.01, 1e308])
def test_rate_outside_limits_rejected(rate):
    message = validation_message(rate=rate)

    assert "--rate must be a positive number of events per tenant per second, finite and at most 10000" in message
    assert f"found {rate}" in message


@pytest.mark.parametrize("duration", [0, -5, MAX_DURATION_SECONDS + 1, 10**12])
def test_duration_outside_limits_rejected(duration):
    message = validation_message(duration_seconds=duration)

    assert "--duration must be a positive number of seconds, at most 31622400 (366 days)" in message
    assert f"found {duration}" in message


def test_limits_themselves_accepted():
    LoadProfile(tenants=1, rate=MAX_RATE, duration_seconds=1, start=START).validate()
    LoadProfile(tenants=1, rate=1e-6, duration_seconds=MAX_DURATION_SECONDS, start=START).validate()


def test_expected_event_count_limited():
    message = validation_message(tenants=1000, rate=MAX_RATE, duration_seconds=MAX_DURATION_SECONDS)

    assert "--tenants × --rate × --duration expects about 3.16e+14 events" in message
    assert f"more than the limit of {MAX_EXPECTED_EVENTS:,}" in message


@pytest.mark.parametrize("start", [
    datetime(9999, 12, 31, 23, tzinfo=timezone.utc),
    datetime(1, 1, 1, 1, tzinfo=timezone.utc),
])
def test_start_near_datetime_limits_rejected(start):
    message = validation_message(start=start, duration_seconds=7200)

    assert "gives event times outside the years 1 to 9999" in message


def test_default_start_rejects_huge_duration():
    with pytest.raises(LoadError, match=r"--duration must be a positive number of seconds, at most 31622400 .* "
                                        r"found 1000000000000"):
        default_start(10**12)


def test_default_start_ends_at_current_hour():
    now = datetime(2024, 11, 1, 5, 42, 7, tzinfo=timezone.utc)

    assert default_start(MAX_DURATION_SECONDS, now) == START - timedelta(seconds=MAX_DURATION_SECONDS)
