"""Plans: currency, billing period and charges, loaded from YAML and validated.

A plan file maps plan ids to plans. Every price is a decimal string; a float
is rejected because YAML has already turned it into a binary fraction. Every
problem in the file (and in the price books it names) is reported together in
one ``ConfigError``.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from pipelines.billing.models import MODEL_CLASSES, ChargeModel, PerUnit
from pipelines.billing.models.base import read_decimal
from pipelines.billing.money import MINOR_UNITS
from pipelines.billing.vocabulary import DiscountKind, PricingModel
from pipelines.config import Meter
from pipelines.errors import ConfigError

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
        return plan_id in self.plans


def load_plans(path: Path, meters: Iterable[Meter], price_book_override: Path | None = None) -> PlanCatalog:
    """Load and validate the plan file at ``path`` against the configured ``meters``.

    ``price_book_override`` replaces every charge's ``price_book`` (re-rating
    with another price list). Raises ``ConfigError`` listing every problem.
    """
    problems: list[str] = []
    try:
        content = path.read_bytes()
        raw = yaml.safe_load(content) or {}
    except FileNotFoundError:
        raise ConfigError(str(path), ["plan file not found; set files.plans in the environment file"]) from None
    except yaml.YAMLError as error:
        raise ConfigError(str(path), [f"not valid YAML: {error}"]) from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("plans"), Mapping) or not raw["plans"]:
        raise ConfigError(str(path), ["expected a top-level mapping 'plans:' of plan id to plan"])

    meters_by_name = {meter.name: meter for meter in meters}
    price_books: dict[Path, PriceBook] = {}
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
    """Read a price book CSV with columns sku_price_id, unit_price, currency."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        problems.append(f"price book {path} does not exist")
        return None
    rows = csv.DictReader(content.decode("utf-8").splitlines())
    missing = [column for column in PRICE_BOOK_COLUMNS if column not in (rows.fieldnames or [])]
    if missing:
        problems.append(f"price book {path}: missing columns {missing}; expected {list(PRICE_BOOK_COLUMNS)}")
        return None
    prices: dict[str, tuple[Decimal, str]] = {}
    for line_number, row in enumerate(rows, start=2):
        key = (row["sku_price_id"] or "").strip()
        where = f"price book {path.name}:{line_number}"
        try:
            price = Decimal(row["unit_price"].strip())
        except (InvalidOperation, AttributeError):
            problems.append(f"{where}: unit_price must be a decimal, found {row['unit_price']!r}")
            continue
        if not key:
            problems.append(f"{where}: sku_price_id is empty")
        elif key in prices:
            problems.append(f"{where}: sku_price_id {key!r} appears twice")
        elif not price.is_finite() or price < 0:
            problems.append(f"{where}: unit_price must be a finite decimal >= 0, found {row['unit_price']!r}")
        else:
            prices[key] = (price, (row["currency"] or "").strip().upper())
    return PriceBook(path=path, prices=prices, sha256=hashlib.sha256(content).hexdigest())


def _parse_plan(plan_id, raw, source, meters_by_name, price_books, price_book_override, problems) -> Plan | None:
    where = f"plans.{plan_id}"
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a mapping, found {raw!r}")
        return None
    unknown = sorted(set(raw) - PLAN_KEYS)
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
    charge_id = str(raw.get("id", ""))
    if not charge_id:
        problems.append(f"{where}: id is missing (a name for the charge, unique in the plan)")
    where = f"{where} ({charge_id})"
    model = PricingModel(model_name)
    meter = raw.get("meter")
    if model is PricingModel.FLAT_FEE:
        if meter is not None:
            problems.append(f"{where}: a flat_fee charge takes no meter, found {meter!r}")
        meter = None
    elif meter not in meters_by_name:
        problems.append(f"{where}: meter must be one of {sorted(meters_by_name)}, found {meter!r}")
    properties = {key: value for key, value in raw.items() if key not in CHARGE_KEYS}
    charge_model = MODEL_CLASSES[model](properties, where, problems)
    if model is PricingModel.PERCENTAGE and meter in meters_by_name and not meters_by_name[meter].value_path:
        problems.append(f"{where}: a percentage charge needs a meter with a value_path (the transaction value)")
    return Charge(charge_id=charge_id, meter=meter, model=charge_model, description=str(raw.get("description", charge_id)))


def _attach_price_book(charge, source, currency, price_books, override, meters_by_name, where, problems) -> str | None:
    model: PerUnit = charge.model
    meter = meters_by_name.get(charge.meter)
    if meter is not None and model.price_by not in meter.group_by:
        problems.append(f"{where}: price_by {model.price_by!r} is not a dimension of meter {meter.name} "
                        f"(dimensions: {list(meter.group_by)})")
    path = override or (source.parent / model.price_book).resolve()
    if path not in price_books:
        book = load_price_book(path, problems)
        if book is None:
            return None
        price_books[path] = book
    book = price_books[path]
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
