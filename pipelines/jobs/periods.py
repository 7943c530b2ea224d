"""Period options for jobs that a scheduler starts.

A scheduler can pass its run date but cannot compute "last month", so the
jobs that take ``--period YYYY-MM`` also accept a date and derive the period
from it. Deriving it from the run date instead of the wall clock makes a retry
or a repair run process the same period as the first attempt.
"""

from __future__ import annotations

import argparse
from datetime import date


def month_of(day: date) -> str:
    """Return ``day``'s calendar month as YYYY-MM.

    >>> month_of(date(2026, 12, 4))
    '2026-12'
    """
    return f"{day.year:04d}-{day.month:02d}"


def previous_month(day: date) -> str:
    """Return the calendar month before ``day``'s month as YYYY-MM.

    >>> previous_month(date(2027, 1, 4))
    '2026-12'
    """
    year, month = (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)
    return f"{year:04d}-{month:02d}"


def add_period_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--month-of`` and ``--previous-month-of``, the alternatives to ``--period``."""
    parser.add_argument("--month-of", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="process the calendar month of this date, e.g. the scheduler's run date "
                             "(instead of --period)")
    parser.add_argument("--previous-month-of", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="process the calendar month before this date's month (instead of --period)")


def period_arguments(parser: argparse.ArgumentParser, options: argparse.Namespace, arguments: list[str]) -> list[str]:
    """Return ``arguments`` with ``--period`` added for ``--month-of`` or ``--previous-month-of``.

    Exits through ``parser.error`` when more than one way of naming the period is given.
    """
    period_options = [name for name, value in (("--month-of", options.month_of),
                                      ("--previous-month-of", options.previous_month_of)) if value is not None]
    if any(argument.split("=", 1)[0] == "--period" for argument in arguments):
        period_options.append("--period")
    if len(period_options) > 1:
        parser.error(f"{' and '.join(period_options)} exclude each other; pass one of them")
    if options.month_of is not None:
        return [*arguments, "--period", month_of(options.month_of)]
    if options.previous_month_of is not None:
        return [*arguments, "--period", previous_month(options.previous_month_of)]
    return arguments
