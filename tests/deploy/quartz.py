"""A validator of Quartz cron expressions, the schedule syntax of Databricks jobs.

Fields: seconds, minutes, hours, day of month, month, day of week and an
optional year. Exactly one of day of month and day of week is ``?``. Days of
week count 1 (SUN) to 7 (SAT). Quartz also accepts ``L``, ``W``, ``LW`` and
``L-n`` in day of month, and ``nL`` and ``n#k`` in day of week.
"""

from __future__ import annotations

import re

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (name, minimum, maximum, names for the values from minimum on)
FIELDS = [
    ("seconds", 0, 59, []),
    ("minutes", 0, 59, []),
    ("hours", 0, 23, []),
    ("day of month", 1, 31, []),
    ("month", 1, 12, MONTHS),
    ("day of week", 1, 7, DAYS),
    ("year", 1970, 2099, []),
]
DAY_OF_MONTH_SPECIAL = re.compile(r"^(L|LW|L-([1-9]|[12][0-9]|30)|([1-9]|[12][0-9]|3[01])W)$")
DAY_OF_WEEK_SPECIAL = re.compile(r"^(L|([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)(L|#[1-5]))$")


def quartz_cron_problems(expression: str) -> list[str]:
    """Return every problem of ``expression``; an empty list means it is valid."""
    fields = expression.split()
    if len(fields) not in (6, 7):
        return [f"expected 6 or 7 fields (seconds to day of week, optional year), found {len(fields)}"]

    problems = []
    for text, (name, minimum, maximum, names) in zip(fields, FIELDS):
        problems += [f"{name}: {problem}" for problem in _field_problems(text, name, minimum, maximum, names)]
    day_of_month, day_of_week = fields[3], fields[5]
    if (day_of_month == "?") == (day_of_week == "?"):
        problems.append(f"exactly one of day of month ({day_of_month!r}) and day of week ({day_of_week!r}) must be '?'")
    return problems


def _field_problems(text: str, name: str, minimum: int, maximum: int, names: list[str]) -> list[str]:
    if text == "?":
        return [] if name in ("day of month", "day of week") else [f"'?' is only valid for days, found in {name}"]
    if name == "day of month" and DAY_OF_MONTH_SPECIAL.match(text):
        return []
    if name == "day of week" and DAY_OF_WEEK_SPECIAL.match(text):
        return []
    problems = []
    for item in text.split(","):
        problems += _item_problems(item, minimum, maximum, names)
    return problems


def _item_problems(item: str, minimum: int, maximum: int, names: list[str]) -> list[str]:
    base, slash, step = item.partition("/")
    problems = []
    if slash and not (step.isdigit() and 0 < int(step) <= maximum):
        problems.append(f"step {step!r} in {item!r} must be an integer from 1 to {maximum}")
    if base == "*":
        return problems
    start, dash, end = base.partition("-")
    for value in (start, end) if dash else (start,):
        number = _value(value, minimum, names)
        if number is None or not minimum <= number <= maximum:
            valid = f"{minimum}-{maximum}" + (f" or {names[0]}-{names[-1]}" if names else "")
            problems.append(f"{value!r} in {item!r} is not a valid value ({valid})")
    return problems


def _value(text: str, minimum: int, names: list[str]) -> int | None:
    if text.isdigit():
        return int(text)
    if text.upper() in names:
        return minimum + names.index(text.upper())
    return None
