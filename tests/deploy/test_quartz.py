"""The Quartz cron validator that the bundle test relies on."""

import pytest

from tests.deploy.quartz import quartz_cron_problems


@pytest.mark.parametrize("expression", [
    "0 0 6 4 * ?",
    "0 30 1 * * ?",
    "0 0 4 ? * SUN",
    "0 0/15 * * * ?",
    "0 0 12 ? JAN-MAR MON-FRI 2027",
    "0 0 0 L * ?",
    "0 0 0 15W * ?",
    "0 0 0 ? * 6#3",
])
def test_valid_expression(expression):
    assert quartz_cron_problems(expression) == []


@pytest.mark.parametrize(("expression", "problem"), [
    ("0 6 4 * ?", "expected 6 or 7 fields"),
    ("0 0 6 4 * MON", "exactly one of day of month ('4') and day of week ('MON') must be '?'"),
    ("0 0 6 ? * ?", "exactly one of day of month ('?') and day of week ('?') must be '?'"),
    ("0 60 6 4 * ?", "minutes: '60' in '60' is not a valid value (0-59)"),
    ("0 0 24 * * ?", "hours: '24' in '24' is not a valid value (0-23)"),
    ("0 0 6 ? * 8", "day of week: '8' in '8' is not a valid value (1-7 or SUN-SAT)"),
    ("0 0/0 * * * ?", "minutes: step '0' in '0/0' must be an integer from 1 to 59"),
    ("? 0 6 4 * ?", "seconds: '?' is only valid for days"),
])
def test_invalid_expression(expression, problem):
    problems = quartz_cron_problems(expression)

    assert any(problem in found for found in problems), problems
