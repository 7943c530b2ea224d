"""Period labels ``YYYY-MM``: the one validator for every command and job that takes a period.

A label names a calendar month. Billing and reconciliation both need the
month after it, because that is where the period ends. Billing also converts
local midnights in any time zone to UTC. The year is therefore bounded, so that
every such date stays inside ``datetime``'s range of years 1 to 9999.
"""

from __future__ import annotations

import re

from pipelines.errors import BillingError

# ASCII digits only: ``\d`` would also match full-width and other Unicode digits.
PERIOD_PATTERN = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
# Year 1 is excluded because local midnight of 0001-01-01 east of UTC falls in
# year 0 once converted to UTC. Year 9999 is excluded because a period of
# 9998-12 needs the following period (9999-01), and 9999-12 would end in 10000.
MIN_YEAR = 2
MAX_YEAR = 9998


def split_period(label: object, name: str = "--period") -> tuple[int, int]:
    """Return ``(year, month)`` of a label in the ``YYYY-MM`` format, without the year bounds.

    Billing uses it for the months it derives from an already validated label,
    such as the period after 9998-12. Raises ``BillingError`` naming ``name``.
    """
    match = PERIOD_PATTERN.fullmatch(label) if isinstance(label, str) else None
    if match is None:
        raise BillingError(f"{name} must be YYYY-MM (for example 2026-11), found {label!r}")
    return int(match.group(1)), int(match.group(2))


def parse_period(label: object, name: str = "--period") -> tuple[int, int]:
    """Validate a period label given by a user and return ``(year, month)``.

    Raises ``BillingError`` naming ``name`` (the option or setting that
    supplied the label) when the format is wrong or the year is outside
    ``MIN_YEAR``..``MAX_YEAR``.
    """
    year, month = split_period(label, name)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise BillingError(f"{name} must be a month from {MIN_YEAR:04d}-01 to {MAX_YEAR:04d}-12, found {label!r}")
    return year, month


def next_month(year: int, month: int) -> tuple[int, int]:
    """Return the ``(year, month)`` after ``month`` of ``year``."""
    return (year + 1, 1) if month == 12 else (year, month + 1)
