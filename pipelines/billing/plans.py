"""Plans: currency, billing period and charges, loaded from YAML and validated.

A plan file maps plan ids to plans. Every price is a decimal string; a float
is rejected because YAML has already turned it into a binary fraction. Every
problem in the file (and in the price books it names) is reported together in
one ``ConfigError``.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from pipelines.billing.models import MODEL_CLASSES, ChargeModel, PerUnit
from pipelines.billing.models.base import parse_decimal, read_decimal, unknown_keys
from pipelines.billing.money import MINOR_UNITS
from pipelines.billing.vocabulary import DiscountKind, PricingModel
from pipelines.config import Meter
from pipelines.errors import ConfigError
from pipelines.yaml_files import load_yaml

CHARGE_KEYS = frozenset({"id", "meter", "model", "description"})
PLAN_KEYS = frozenset({"name", "currency", "billing_period", "charges", "minimum_commitment", "discounts"})
BILLING_PERIODS = ("monthly",)
PRICE_BOOK_COLUMNS = ("sku_price_id", "unit_price", "currency")


@dataclass(frozen=True)
class Charge:
    """A pricing model applied to a meter (no meter for a flat fee)."""

    charge_id: str
    meter: str | None
    model: ChargeModel
    description: str

    @property
    def pricing_model(self) -> PricingModel:
        return self.model.model


@dataclass(frozen=True)
class Discount:
    """A percentage or fixed-amount reduction; lower ``order`` applies first."""

    kind: DiscountKind
    value: Decimal
    order: int
    description: str


@dataclass(frozen=True)
class Plan:
    plan_id: str
    name: str
    currency: str
    billing_period: str
    charges: tuple[Charge, ...]
    minimum_commitment: Decimal | None
    discounts: tuple[Discount, ...]
    price_book_sha256: str

    @property
    def meters(self) -> set[str]:
        return {charge.meter for charge in self.charges if charge.meter}


@dataclass(frozen=True)
class PlanCatalog:
    """All plans of one plan file and the SHA-256 of the file's bytes."""

    source: Path
    plans: dict[str, Plan]
    sha256: str

    def __getitem__(self, plan_id: str) -> Plan:
        return self.plans[plan_id]

    def __contains__(self, plan_id: object) -> bool:
        # Plan ids are strings; a list or mapping from a tenants file is unhashable.
        return isinstance(plan_id, str) and plan_id in self.plans


def load_plans(path: Path, meters: Iterable[Meter], price_book_override: Path | None = None) -> PlanCatalog:
    """Load and validate the plan file at ``path`` against the configured ``meters``.

    ``price_book_override`` replaces every charge's ``price_book`` (re-rating
    with another price list). Raises ``ConfigError`` listing every problem.
    """
    problems: list[str] = []
    try:
        content = path.read_bytes()
        raw = load_yaml(content) or {}
    except FileNotFoundError:
        raise ConfigError(str(path), ["plan file not found; set files.plans in the environment file"]) from None
    except yaml.YAMLError as error:
        raise ConfigError(str(path), [f"not valid YAML: {error}"]) from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("plans"), Mapping) or not raw["plans"]:
        raise ConfigError(str(path), ["expected a top-level mapping 'plans:' of plan id to plan"])

    meters_by_name = {meter.name: meter for meter in meters}
    price_books: dict[Path, PriceBook | None] = {}
    plans = {}
    for plan_id, plan_raw in raw["plans"].items():
        plan = _parse_plan(str(plan_id), plan_raw, path, meters_by_name, price_books, price_book_override, problems)
        if plan is not None:
            plans[plan.plan_id] = plan
    if problems:
        raise ConfigError(str(path), problems)
    return PlanCatalog(source=path, plans=plans, sha256=hashlib.sha256(content).hexdigest())


@dataclass(frozen=True)
class PriceBook:
    """Unit prices by ``sku_price_id`` from a CSV file, with the file's SHA-256."""

    path: Path
    prices: dict[str, tuple[Decimal, str]]
    sha256: str


def load_price_book(path: Path, problems: list[str]) -> PriceBook | None:
    """Read a price book CSV with columns sku_price_id, unit_price, currency.

    The whole text is parsed as CSV, so a quoted SKU may contain commas and
    line breaks. Problems name the file and the line where the record ends.
    Returns None when the file cannot be read at all.
    """
    content = _read_price_book_bytes(path, problems)
    if content is None:
        return None
    try:
        # Spreadsheet programs often start UTF-8 files with a byte order mark.
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problems.append(f"price book {path}: not valid UTF-8 (byte 0x{content[error.start]:02x} at offset "
                        f"{error.start}); save the file as UTF-8")
        return None
    rows = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fieldnames = rows.fieldnames
    except csv.Error as error:
        problems.append(f"price book {path}:{rows.line_num}: invalid CSV: {error}")
        return None
    if not fieldnames:
        problems.append(f"price book {path} is empty; expected the header {','.join(PRICE_BOOK_COLUMNS)} "
                        f"and one row per price")
        return None
    missing = [column for column in PRICE_BOOK_COLUMNS if column not in fieldnames]
    if missing:
        problems.append(f"price book {path}: missing columns {missing}; expected {list(PRICE_BOOK_COLUMNS)}")
        return None
    records = _read_records(rows, path, problems)
    if records is None:
        return None
    if not records:
        problems.append(f"price book {path} has no prices; add one row per SKU below the header")
        return None
    prices: dict[str, tuple[Decimal, str]] = {}
    for line_number, row in records:
        where = f"price book {path.name}:{line_number}"
        if _row_has_header_width(row, len(fieldnames), where, problems):
            _add_price(row, where, prices, problems)
    return PriceBook(path=path, prices=prices, sha256=hashlib.sha256(content).hexdigest())


def _read_price_book_bytes(path: Path, problems: list[str]) -> bytes | None:
    try:
        if not path.exists():
            problems.append(f"price book {path} does not exist")
            return None
        if not path.is_file():
            problems.append(f"price book {path} is not a regular file (a directory or device); "
                            f"name a CSV file")
            return None
        return path.read_bytes()
    except (OSError, ValueError) as error:
        # Path methods raise ValueError for a path that contains a NUL character.
        problems.append(f"price book {path} cannot be read: {error}")
        return None


def _read_records(rows: csv.DictReader, path: Path, problems: list[str]) -> list[tuple[int, dict]] | None:
    """Return ``(line number where the record ends, row)`` pairs, or None when the CSV syntax is broken."""
    records = []
    try:
        for row in rows:
            records.append((rows.line_num, row))
    except csv.Error as error:
        problems.append(f"price book {path.name}:{rows.line_num}: invalid CSV: {error}")
        return None
    return records


def _row_has_header_width(row: dict, columns: int, where: str, problems: list[str]) -> bool:
    # DictReader stores surplus values under the key None and fills short rows with None.
    if None in row:
        problems.append(f"{where}: the row has more values than the {columns} header columns; "
                        f"quote values that contain commas")
        return False
    if any(row[column] is None for column in PRICE_BOOK_COLUMNS):
        problems.append(f"{where}: the row has fewer values than the {columns} header columns")
        return False
    return True


def _add_price(row: dict[str, str], where: str, prices: dict[str, tuple[Decimal, str]], problems: list[str]) -> None:
    key = row["sku_price_id"].strip()
    price = parse_decimal(row["unit_price"].strip(), "unit_price", where, problems)
    if price is None:
        return
    if not key:
        problems.append(f"{where}: sku_price_id is empty")
    elif key in prices:
        problems.append(f"{where}: sku_price_id {key!r} appears twice")
    elif price < 0:
        problems.append(f"{where}: unit_price must be a decimal >= 0, found {row['unit_price']!r}")
    else:
        prices[key] = (price, row["currency"].strip().upper())


def _parse_plan(plan_id, raw, source, meters_by_name, price_books, price_book_override, problems) -> Plan | None:
    where = f"plans.{plan_id}"
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a mapping, found {raw!r}")
        return None
    unknown = unknown_keys(raw, PLAN_KEYS)
    if unknown:
        problems.append(f"{where}: unknown keys {unknown}; valid keys are {sorted(PLAN_KEYS)}")
    currency = str(raw.get("currency", "")).upper()
    if currency not in MINOR_UNITS:
        problems.append(f"{where}: currency must be an ISO 4217 code with a known minor unit "
                        f"({', '.join(sorted(MINOR_UNITS))}), found {raw.get('currency')!r}")
    period = str(raw.get("billing_period", "monthly"))
    if period not in BILLING_PERIODS:
        problems.append(f"{where}: billing_period must be one of {list(BILLING_PERIODS)}, found {period!r}")

    charges = []
    book_hashes = []
    seen_ids: set[str] = set()
    raw_charges = raw.get("charges")
    if not isinstance(raw_charges, list) or not raw_charges:
        problems.append(f"{where}: charges must be a non-empty list")
        raw_charges = []
    for index, charge_raw in enumerate(raw_charges):
        charge = _parse_charge(charge_raw, f"{where}.charges[{index}]", meters_by_name, problems)
        if charge is None:
            continue
        if charge.charge_id in seen_ids:
            problems.append(f"{where}.charges[{index}]: charge id {charge.charge_id!r} is used twice in the plan")
        seen_ids.add(charge.charge_id)
        if isinstance(charge.model, PerUnit) and charge.model.price_by:
            book_hash = _attach_price_book(charge, source, currency, price_books, price_book_override,
                                           meters_by_name, f"{where}.charges[{index}]", problems)
            book_hashes.append(book_hash)
        charges.append(charge)

    commitment = read_decimal(raw, "minimum_commitment", where, problems, required=False)
    discounts = _parse_discounts(raw.get("discounts") or [], f"{where}.discounts", problems)
    return Plan(plan_id=plan_id, name=str(raw.get("name", plan_id)), currency=currency, billing_period=period,
                charges=tuple(charges), minimum_commitment=commitment, discounts=discounts,
                price_book_sha256=",".join(sorted(set(filter(None, book_hashes)))))


def _parse_charge(raw, where, meters_by_name, problems) -> Charge | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a mapping, found {raw!r}")
        return None
    model_name = str(raw.get("model", ""))
    valid_models = [item.value for item in PricingModel]
    if model_name not in valid_models:
        problems.append(f"{where}: model must be one of {valid_models}, found {model_name!r}")
        return None
    charge_id = _read_charge_id(raw.get("id"), where, problems)
    where = f"{where} ({charge_id})"
    model = PricingModel(model_name)
    meter = raw.get("meter")
    if model is PricingModel.FLAT_FEE:
        if meter is not None:
            problems.append(f"{where}: a flat_fee charge takes no meter, found {meter!r}")
        meter = None
    elif not isinstance(meter, str) or meter not in meters_by_name:
        problems.append(f"{where}: meter must be one of {sorted(meters_by_name)}, found {meter!r}")
        meter = None
    properties = {key: value for key, value in raw.items() if key not in CHARGE_KEYS}
    charge_model = MODEL_CLASSES[model](properties, where, problems)
    if model is PricingModel.PERCENTAGE and meter in meters_by_name and not meters_by_name[meter].value_path:
        problems.append(f"{where}: a percentage charge needs a meter with a value_path (the transaction value)")
    return Charge(charge_id=charge_id, meter=meter, model=charge_model, description=str(raw.get("description", charge_id)))


def _read_charge_id(value: Any, where: str, problems: list[str]) -> str:
    if value is None or value == "":
        problems.append(f"{where}: id is missing (a name for the charge, unique in the plan)")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        problems.append(f"{where}: id must be a string (a name for the charge, unique in the plan), found {value!r}")
        return ""
    return str(value)


def _attach_price_book(charge, source, currency, price_books, override, meters_by_name, where, problems) -> str | None:
    model: PerUnit = charge.model
    meter = meters_by_name.get(charge.meter)
    if meter is not None and model.price_by not in meter.group_by:
        problems.append(f"{where}: price_by {model.price_by!r} is not a dimension of meter {meter.name} "
                        f"(dimensions: {list(meter.group_by)})")
    if override is None and model.price_book is None:
        return None  # PerUnit has already reported the missing or invalid price_book.
    try:
        path = override or (source.parent / model.price_book).resolve()
    except (OSError, ValueError) as error:
        problems.append(f"{where}: price_book {model.price_book!r} is not a usable path: {error}")
        return None
    if path not in price_books:
        # A book that failed to load is stored as None, so its problems are reported once.
        price_books[path] = load_price_book(path, problems)
    book = price_books[path]
    if book is None:
        return None
    wrong_currency = sorted(key for key, (_, book_currency) in book.prices.items() if book_currency != currency)
    if wrong_currency:
        problems.append(f"{where}: price book {path.name} prices {len(wrong_currency)} SKUs in another currency "
                        f"than the plan's {currency}, for example {wrong_currency[:3]}")
    model.prices = {key: price for key, (price, _) in book.prices.items()}
    return book.sha256


def _parse_discounts(raw, where, problems) -> tuple[Discount, ...]:
    discounts = []
    if not isinstance(raw, list):
        problems.append(f"{where}: expected a list, found {raw!r}")
        return ()
    for index, item in enumerate(raw):
        item_where = f"{where}[{index}]"
        discount = parse_discount(item, item_where, problems)
        if discount is not None:
            discounts.append(discount)
    return tuple(sorted(discounts, key=lambda discount: discount.order))


def parse_discount(raw: Any, where: str, problems: list[str]) -> Discount | None:
    """Parse ``{kind: percentage, percent: "10"}`` or ``{kind: amount, amount: "5.00"}`` with ``order``."""
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a mapping, found {raw!r}")
        return None
    kinds = [item.value for item in DiscountKind]
    kind = str(raw.get("kind", ""))
    if kind not in kinds:
        problems.append(f"{where}: kind must be one of {kinds}, found {kind!r}")
        return None
    key = "percent" if kind == DiscountKind.PERCENTAGE.value else "amount"
    value = read_decimal(raw, key, where, problems)
    if key == "percent" and value is not None and value > 100:
        problems.append(f"{where}: percent must be at most 100, found {value}")
    order = raw.get("order", 0)
    if isinstance(order, bool) or not isinstance(order, int):
        problems.append(f"{where}: order must be an integer, found {order!r}")
        order = 0
    if value is None:
        return None
    return Discount(kind=DiscountKind(kind), value=value, order=order,
                    description=str(raw.get("description", f"{kind} discount")))
