"""Expected ``gold.usage_hourly`` totals, computed exactly in Python.

``UsageTotals`` folds valid events into one row per tenant, meter, dimensions and
UTC hour with the semantics of gold: SUM, COUNT, MAX, UNIQUE_COUNT (distinct
values of the value path) and LATEST. LATEST keeps the value of the event with
the greatest time, and a tie goes to the greatest event id in string order. Callers add each
event once, so a duplicate delivery is never added, and malformed records are
never added. A late event lands in the hour of its own event time.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipelines.config import Meter
from pipelines.load.events import UsageEvent
from pipelines.vocabulary import Aggregation
from pipelines.vocabulary import Column as C

GROUND_TRUTH_COLUMNS = (C.TENANT_ID, C.METER, C.DIMENSIONS, C.WINDOW_START, C.QUANTITY, C.EVENT_COUNT)


@dataclass(frozen=True, order=True)
class UsageTotal:
    """One expected gold row; ``quantity`` is exact."""

    tenant_id: str
    meter: str
    dimensions: str
    window_start: datetime
    quantity: Decimal
    event_count: int


@dataclass
class _Accumulator:
    event_count: int = 0
    total: Decimal = Decimal(0)
    maximum: Decimal | None = None
    distinct: set[str] = field(default_factory=set)
    latest_key: tuple[datetime, str] | None = None
    latest_value: Decimal | None = None


class UsageTotals:
    """Expected hourly usage for a set of meters, filled one event at a time."""

    def __init__(self, meters: tuple[Meter, ...] | list[Meter]):
        self._meters_by_type: dict[str, list[Meter]] = {}
        for meter in meters:
            self._meters_by_type.setdefault(meter.event_type, []).append(meter)
        self._accumulators: dict[tuple[str, str, str, datetime], tuple[Meter, _Accumulator]] = {}

    def add(self, event: UsageEvent) -> None:
        """Fold one valid event into every meter that reads its type.

        Raises ``ValueError`` when a numeric meter finds no value in the event,
        because such an event is not valid and must not be counted as usage.
        """
        hour = event.time.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
        for meter in self._meters_by_type.get(event.event_type, []):
            key = (event.tenant_id, meter.name, render_dimensions(meter.group_by, event.data), hour)
            _, accumulator = self._accumulators.setdefault(key, (meter, _Accumulator()))
            _fold(accumulator, meter, event)

    def totals(self) -> list[UsageTotal]:
        """Return the expected rows sorted by tenant, meter, dimensions and hour."""
        rows = []
        for (tenant_id, meter_name, dimensions, hour), (meter, accumulator) in self._accumulators.items():
            rows.append(UsageTotal(tenant_id, meter_name, dimensions, hour,
                                   _quantity(meter, accumulator), accumulator.event_count))
        return sorted(rows)


def render_dimensions(group_by: tuple[str, ...], data: dict[str, Any]) -> str:
    """Render a meter's dimensions as Spark's ``to_json(named_struct(...))`` does.

    Fields appear in ``group_by`` order with string values and no spaces. A
    missing or null field is left out, and no fields give ``{}``.

    >>> render_dimensions(("region", "zone"), {"region": "eu-west-1", "bytes": 3})
    '{"region":"eu-west-1"}'
    """
    present = []
    for name in group_by:
        value = data.get(name) if isinstance(data, dict) else None
        if value is not None:
            present.append((name, value if isinstance(value, str) else _json_scalar_text(value)))
    return _dimensions_json(tuple(present))


@lru_cache(maxsize=65536)
def _dimensions_json(fields: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(dict(fields), separators=(",", ":"), ensure_ascii=False)


def format_window_start(hour: datetime) -> str:
    """Format an hour as ISO 8601 UTC: ``2024-11-01T05:00:00Z``."""
    return hour.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:00:00Z")


def write_ground_truth(totals: list[UsageTotal], path: Path) -> None:
    """Write expected gold rows as CSV; quantities are exact decimal strings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(GROUND_TRUTH_COLUMNS)
        for row in totals:
            writer.writerow([row.tenant_id, row.meter, row.dimensions, format_window_start(row.window_start),
                             format(row.quantity, "f"), row.event_count])


def read_value(data: dict[str, Any], value_path: str) -> Any:
    """Return the value at a ``$.a.b`` path of ``data``, or None when absent."""
    node: Any = data
    for part in value_path.removeprefix("$.").split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _fold(accumulator: _Accumulator, meter: Meter, event: UsageEvent) -> None:
    accumulator.event_count += 1
    if meter.aggregation is Aggregation.COUNT:
        return

    raw = read_value(event.data, meter.value_path or "")
    if raw is None:
        raise ValueError(f"event {event.event_id!r} of tenant {event.tenant_id!r} has no value at "
                         f"{meter.value_path} for meter {meter.name}")
    if meter.aggregation is Aggregation.UNIQUE_COUNT:
        accumulator.distinct.add(raw if isinstance(raw, str) else _json_scalar_text(raw))
        return

    value = Decimal(raw) if isinstance(raw, (int, str)) else raw
    if meter.aggregation is Aggregation.SUM:
        accumulator.total += value
    elif meter.aggregation is Aggregation.MAX:
        accumulator.maximum = value if accumulator.maximum is None else max(accumulator.maximum, value)
    elif meter.aggregation is Aggregation.LATEST:
        order_key = (event.time, event.event_id)
        if accumulator.latest_key is None or order_key > accumulator.latest_key:
            accumulator.latest_key = order_key
            accumulator.latest_value = value


def _quantity(meter: Meter, accumulator: _Accumulator) -> Decimal:
    aggregation = meter.aggregation
    if aggregation is Aggregation.COUNT:
        return Decimal(accumulator.event_count)
    if aggregation is Aggregation.UNIQUE_COUNT:
        return Decimal(len(accumulator.distinct))
    if aggregation is Aggregation.SUM:
        return accumulator.total
    if aggregation is Aggregation.MAX:
        return accumulator.maximum
    return accumulator.latest_value


def _json_scalar_text(value: Any) -> str:
    # Spark's get_json_object returns a number's JSON text, so dimensions and
    # distinct values compare by that text.
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value)
