"""Replay of the FOCUS 1.0 billing sample as usage events, and its list-price book.

Mapping (the data set README lists the 44 columns):

* Tenant: ``SubAccountId``, mapped by ``focus_account_to_tenant_id``.
* One ``focus.usage`` event per row with ChargeCategory ``Usage``, carrying
  ``pricing_quantity`` = PricingQuantity as an exact decimal (the sample has at
  most 11 fractional digits, so no rounding happens) and the dimension
  ``sku_price_id`` = SkuPriceId.
* Time: ChargePeriodStart, a naive timestamp read as UTC, moved from September
  2024 to the target month with day and time of day unchanged.
* Event id: ``focus-<YYYYMM>-<Id>`` with the row's ``Id`` and the target month,
  so replaying one month twice publishes exact duplicates.
* Skipped rows, counted by reason: Credit and Adjustment rows, and rows with a
  NULL PricingQuantity. Rows with a negative PricingQuantity are corrections,
  which silver would reject, so they are skipped too. Rows without a SkuPriceId
  are skipped because the price book cannot price them.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pipelines.load.errors import LoadError
from pipelines.load.events import MAX_QUANTITY_SCALE, UsageEvent, format_event_time
from pipelines.load.tenant_ids import focus_account_to_tenant_id


FOCUS_SOURCE = "/meterhouse/replay/focus-1.0-sample"
FOCUS_EVENT_TYPE = "focus.usage"
FOCUS_FILE = "focus_sample.csv"
FOCUS_SOURCE_MONTH_START = datetime(2024, 9, 1, tzinfo=timezone.utc)
FOCUS_NULL = "NULL"
USAGE_CATEGORY = "Usage"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class FocusReplay:
    """Events of one FOCUS replay in file order, and the rows skipped by reason."""

    events: list[UsageEvent] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    rows: int = 0


@dataclass(frozen=True)
class PriceBook:
    """List unit price per SkuPriceId, and the SkuPriceIds whose rows disagree."""

    prices: dict[str, tuple[str, str]]
    conflicts: dict[str, list[str]]


def read_focus_rows(folder: Path) -> Iterator[dict[str, str]]:
    with (folder / FOCUS_FILE).open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def build_focus_events(rows: Iterable[dict[str, str]], target_start: datetime) -> FocusReplay:
    """Turn FOCUS rows into ``focus.usage`` events; ``target_start`` is the target month's first instant."""
    replay = FocusReplay()
    shift = target_start - FOCUS_SOURCE_MONTH_START
    id_prefix = f"focus-{target_start:%Y%m}"

    for row in rows:
        replay.rows += 1
        reason = _skip_reason(row)
        if reason:
            replay.skipped[reason] += 1
            continue
        period_start = _utc(row["ChargePeriodStart"], row) + shift
        period_end = _utc(row["ChargePeriodEnd"], row) + shift
        data = {
            "pricing_quantity": Decimal(row["PricingQuantity"]),
            "sku_price_id": row["SkuPriceId"],
            "pricing_unit": row["PricingUnit"],
            "provider_name": row["ProviderName"],
            "service_name": row["ServiceName"],
            "charge_period_end": format_event_time(period_end),
        }
        replay.events.append(UsageEvent(focus_account_to_tenant_id(row["SubAccountId"]), f"{id_prefix}-{row['Id']}",
                                        FOCUS_EVENT_TYPE, period_start, data, FOCUS_SOURCE))
    return replay


def build_price_book(rows: Iterable[dict[str, str]]) -> PriceBook:
    """Collect (ListUnitPrice, BillingCurrency) per SkuPriceId from the Usage rows.

    Prices are kept as the exact strings of the file. Two strings of equal
    decimal value (``0.5``, ``0.50``) agree, and the first one seen is kept.
    A SkuPriceId whose rows disagree goes to ``conflicts`` and not to ``prices``.
    """
    seen: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        sku = row["SkuPriceId"]
        price = row["ListUnitPrice"]
        if row["ChargeCategory"] != USAGE_CATEGORY or _is_null(sku) or _is_null(price):
            continue
        seen.setdefault(sku, []).append((price, row["BillingCurrency"]))

    prices, conflicts = {}, {}
    for sku, entries in sorted(seen.items()):
        distinct = {(Decimal(price), currency) for price, currency in entries}
        if len(distinct) == 1:
            prices[sku] = entries[0]
        else:
            conflicts[sku] = sorted({f"{price} {currency}" for price, currency in entries})
    return PriceBook(prices=prices, conflicts=conflicts)


def write_price_book(book: PriceBook, path: Path) -> None:
    """Write ``sku_price_id,unit_price,currency`` sorted by SkuPriceId."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["sku_price_id", "unit_price", "currency"])
        for sku, (price, currency) in book.prices.items():
            writer.writerow([sku, price, currency])


def focus_tenants(rows: Iterable[dict[str, str]]) -> dict[str, str]:
    """Return tenant id → SubAccountName for every SubAccountId, sorted by tenant id."""
    names: dict[str, str] = {}
    for row in rows:
        names.setdefault(focus_account_to_tenant_id(row["SubAccountId"]), row["SubAccountName"])
    return dict(sorted(names.items()))


def _skip_reason(row: dict[str, str]) -> str | None:
    if row["ChargeCategory"] != USAGE_CATEGORY:
        return f"charge_category_{row['ChargeCategory'].lower()}"
    quantity = row["PricingQuantity"]
    if _is_null(quantity):
        return "null_pricing_quantity"
    try:
        value = Decimal(quantity)
    except InvalidOperation:
        raise LoadError(f"{FOCUS_FILE} row Id {row['Id']}: PricingQuantity must be a decimal, found {quantity!r}") from None
    if value < 0:
        return "negative_pricing_quantity"
    if -value.as_tuple().exponent > MAX_QUANTITY_SCALE:
        return "pricing_quantity_scale_above_12"
    if _is_null(row["SkuPriceId"]):
        return "missing_sku_price_id"
    return None


def _utc(text: str, row: dict[str, str]) -> datetime:
    try:
        return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise LoadError(f"{FOCUS_FILE} row Id {row['Id']}: expected a timestamp like 2024-09-18 22:00:00, "
                        f"found {text!r}") from None


def _is_null(value: str | None) -> bool:
    return value is None or value in ("", FOCUS_NULL)
