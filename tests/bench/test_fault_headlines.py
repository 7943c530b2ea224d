"""The faults result table: restart times against their target, billing rows with a verdict."""

import pytest

from pipelines.bench.faults import add_billing_headline, within_target
from pipelines.bench.results import BenchResult


@pytest.mark.parametrize(("seconds", "cell"), [
    (18.93, "≤ 20 (met)"),
    (20.0, "≤ 20 (met)"),
    (26.94, "≤ 20 (missed by 6.9 s)"),
    (None, "≤ 20 (not measured)"),
])
def test_restart_time_against_target(seconds, cell):
    assert within_target(seconds, 20) == cell


def test_billing_row_verdicts():
    result = BenchResult(scenario="faults", scale="tiny", command="meterhouse bench faults --scale tiny")

    add_billing_headline(result, "kill -9 under load: billing", {"missing_rows": 0, "unexpected_rows": 0,
                                                                 "different_rows": 0})
    add_billing_headline(result, "billing", {"missing_rows": 2, "unexpected_rows": 0, "different_rows": 1})

    assert result.headline[0] == ("kill -9 under load: billing (rows missing / extra / different)", "0 / 0 / 0",
                                  "0 / 0 / 0 (met)")
    assert result.headline[1] == ("billing (rows missing / extra / different)", "2 / 0 / 1", "0 / 0 / 0 (missed)")
