"""Lag, fault latency and the rate search of sustained-rate, on hand-made timelines."""

import pytest

from pipelines.bench.lag import (
    RecordTimes,
    evenly_spaced,
    fault_latency,
    lag_series,
    lag_trend,
    least_squares_slope,
)
from pipelines.bench.sustained import next_rate


def steady_records(rate: int, seconds: int, delay: float, start: float = 1000.0) -> list[RecordTimes]:
    """``rate`` records per second, each finished by every layer ``delay`` seconds after it was produced."""
    records = []
    for index in range(rate * seconds):
        produced = start + index / rate
        records.append(RecordTimes(produced=produced, bronze=produced + delay / 4,
                                   silver=produced + delay / 2, gold=produced + delay))
    return records


def falling_behind_records(rate: int, seconds: int, capacity: int, start: float = 1000.0) -> list[RecordTimes]:
    """``rate`` records per second produced, finished one by one at ``capacity`` per second."""
    records = []
    for index in range(rate * seconds):
        produced = start + index / rate
        done = start + index / capacity
        records.append(RecordTimes(produced=produced, bronze=produced, silver=done, gold=done))
    return records


def test_lag_counts_produced_but_unfinished():
    records = [RecordTimes(produced=1.0, bronze=2.0, silver=3.0, gold=5.0),
               RecordTimes(produced=2.0, bronze=2.5, silver=None, gold=None)]

    assert lag_series(records, "bronze", [0.5, 1.0, 2.0, 2.5]) == [0, 1, 1, 0]
    assert lag_series(records, "silver", [2.0, 3.0, 9.0]) == [2, 1, 1]
    assert lag_series(records, "gold", [4.9, 5.0]) == [2, 1]


def test_unbilled_record_is_done_for_gold_after_silver():
    duplicate = RecordTimes(produced=1.0, bronze=1.5, silver=2.0, gold=None, billed=False)

    assert duplicate.finished("gold") == 2.0
    assert lag_series([duplicate], "gold", [1.9, 2.0]) == [1, 0]


def test_evenly_spaced_includes_end():
    assert evenly_spaced(0.0, 2.0, 0.5) == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_evenly_spaced_rejects_zero_step():
    with pytest.raises(ValueError, match="step must be positive"):
        evenly_spaced(0.0, 1.0, 0.0)


def test_slope_of_straight_line():
    assert least_squares_slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)


def test_slope_of_one_point_is_zero():
    assert least_squares_slope([5], [9]) == 0.0


def test_slope_rejects_uneven_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        least_squares_slope([1, 2], [1])


def test_steady_pipeline_lag_is_flat():
    records = steady_records(rate=20, seconds=60, delay=3.0)

    trend = lag_trend(records, "gold", 1010.0, 1050.0)

    assert trend.is_flat(offered_per_second=20)
    assert abs(trend.slope_records_per_second) < 0.2
    assert trend.second_half_max == trend.first_half_max == 60


def test_pipeline_behind_has_growing_lag():
    # Produced at 20/s, finished at 15/s: the lag grows by 5 records a second.
    records = falling_behind_records(rate=20, seconds=60, capacity=15)

    trend = lag_trend(records, "gold", 1010.0, 1050.0)

    assert not trend.is_flat(offered_per_second=20)
    assert trend.slope_records_per_second == pytest.approx(5.0, abs=0.1)
    assert trend.second_half_max > trend.first_half_max


def test_slightly_behind_is_not_flat():
    # 20/s in and 19.6/s out loses 0.4 records a second, 2 % of the rate.
    records = falling_behind_records(rate=20, seconds=60, capacity=19.6)

    assert not lag_trend(records, "gold", 1010.0, 1050.0).is_flat(offered_per_second=20)


def kill_timeline() -> list[RecordTimes]:
    """10 records/s for 100 s at 2 s latency, except that those produced in [40, 60) reach gold only from 70 s on."""
    records = []
    for index in range(1000):
        produced = index / 10
        if 40 <= produced < 60:
            gold = 70.0 + (produced - 40) * 0.1
        else:
            gold = produced + 2.0
        records.append(RecordTimes(produced=produced, bronze=produced, silver=produced, gold=gold))
    return records


def test_fault_latency_baseline_peak_and_recovery():
    latency = fault_latency(kill_timeline(), warmup_end=10.0, killed_at=40.0, relaunched_at=41.0)

    assert latency.baseline_p50 == pytest.approx(2.0)
    assert latency.baseline_p95 == pytest.approx(2.0)
    assert latency.peak == pytest.approx(30.0)
    # Records produced from 60 s on are back at 2 s: the bucket that starts
    # 20 s after the relaunch (at 61 s) is the first normal one without a slow one after it.
    assert latency.back_to_normal_seconds == pytest.approx(20.0)
    assert latency.to_dict()["peak_increase_seconds"] == pytest.approx(28.0)


def test_fault_latency_counts_record_held_up_by_kill():
    records = [RecordTimes(produced=t, bronze=t, silver=t, gold=t + 1.0) for t in range(30)]
    # Produced before the kill at 30 s, visible in gold only after the relaunch.
    records.append(RecordTimes(produced=29.5, bronze=29.5, silver=45.0, gold=48.0))

    latency = fault_latency(records, warmup_end=0.0, killed_at=30.0, relaunched_at=31.0)

    assert latency.peak == pytest.approx(18.5)
    assert latency.baseline_p95 == pytest.approx(1.0)


def test_fault_latency_never_normal_is_none():
    records = [RecordTimes(produced=t, bronze=t, silver=t, gold=t + (1.0 if t < 20 else 50.0)) for t in range(40)]

    latency = fault_latency(records, warmup_end=0.0, killed_at=20.0, relaunched_at=21.0)

    assert latency.back_to_normal_seconds is None
    assert latency.peak == pytest.approx(50.0)


def test_fault_latency_ignores_unbilled_records():
    records = [RecordTimes(produced=t, bronze=t, silver=t, gold=t + 1.0) for t in range(20)]
    records.append(RecordTimes(produced=25.0, bronze=25.0, silver=99.0, gold=None, billed=False))

    latency = fault_latency(records, warmup_end=0.0, killed_at=10.0, relaunched_at=11.0)

    assert latency.peak == pytest.approx(1.0)


def test_fault_latency_without_baseline_raises():
    records = [RecordTimes(produced=50.0, bronze=50.0, silver=50.0, gold=51.0)]

    with pytest.raises(ValueError, match="reached gold before the kill"):
        fault_latency(records, warmup_end=10.0, killed_at=40.0, relaunched_at=41.0)


def step(rate, sustained):
    return {"offered_events_per_second": rate, "sustained": sustained}


def test_next_rate_raises_after_sustained_step():
    assert next_rate([step(400.0, True)]) == pytest.approx(600.0)


def test_next_rate_lowers_after_falling_behind():
    assert next_rate([step(400.0, False)]) == pytest.approx(240.0)


def test_next_rate_bisects_a_bracket():
    assert next_rate([step(400.0, True), step(600.0, False)]) == pytest.approx(500.0)
    assert next_rate([step(400.0, True), step(600.0, False), step(500.0, True)]) == pytest.approx(550.0)


def test_fault_latency_unfinished_record_has_no_recovery():
    records = [RecordTimes(produced=t, bronze=t, silver=t, gold=t + 1.0) for t in range(40)]
    records.append(RecordTimes(produced=35.0, bronze=35.0, silver=36.0, gold=None))

    latency = fault_latency(records, warmup_end=0.0, killed_at=20.0, relaunched_at=21.0)

    assert latency.back_to_normal_seconds is None


def test_evenly_spaced_rejects_reversed_window():
    with pytest.raises(ValueError, match="ends before it starts"):
        evenly_spaced(5.0, 1.0, 1.0)
