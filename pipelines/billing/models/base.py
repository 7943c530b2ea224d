"""The shared base of the pricing models and the helpers that parse their properties.

A model is built from a charge's ``properties`` mapping. It validates them in
its constructor, appending every problem to ``problems`` instead of raising, so
that a plan file reports all of its defects at once. ``price`` is pure. It
takes a quantity (and, for percentage charges, the per-event values) and
returns the unrounded amount with a breakdown, and the caller rounds the line.
"""

from __future__ import annotations

import difflib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any, ClassVar

from pipelines.billing.money import BILLING_CONTEXT
from pipelines.billing.vocabulary import PricingModel

ZERO = Decimal(0)

# Invoice lines store unit_price and quantity as DECIMAL(38, 12), which is
# ``QUANTITY_TYPE`` in pipelines/schemas.py. A configured number may therefore
# have at most 26 digits before and 12 after the decimal point. The product of
# two such numbers also fits the 60 digits of ``BILLING_CONTEXT``.
MAX_INTEGER_DIGITS = 26
MAX_FRACTION_DIGITS = 12
FRACTION_QUANTUM = Decimal(1).scaleb(-MAX_FRACTION_DIGITS)
# ASCII only: Decimal() alone also accepts full-width digits, underscores,
# "NaN" and "Infinity".
DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
TIER_KEYS = frozenset({"up_to", "unit_price", "flat_fee"})


@dataclass(frozen=True)
class ChargeUsage:
    """Usage of one charge within one service window.

    ``quantity`` is the meter's aggregated quantity (for a flat fee, the
    fraction of the period served). ``transactions`` contains the per-event values
    in event-time order, read only by percentage charges. ``price_key`` is the
    dimension value that selects a price from a price book. A flat fee reads
    ``days_served`` and ``days_in_period`` to prorate without dividing first.
    """

    quantity: Decimal
    transactions: tuple[Decimal, ...] = ()
    price_key: str | None = None
    days_served: int | None = None
    days_in_period: int | None = None


@dataclass(frozen=True)
class PricedAmount:
    """An unrounded amount, the units it bills and how it was computed."""

    amount: Decimal
    units: Decimal
    unit_price: Decimal | None = None
    details: dict[str, Any] = field(default_factory=dict)


class ChargeModel(ABC):
    """A pricing model: validated properties and a pure ``price`` function."""

    model: ClassVar[PricingModel]
    # Property names the model accepts. Any other name is reported as unknown.
    accepted_properties: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, properties: Mapping[str, Any], where: str, problems: list[str]):
        self.where = where
        unknown = unknown_keys(properties, self.accepted_properties)
        if unknown:
            problems.append(f"{where}: unknown properties {unknown} for model {self.model.value}; "
                            f"valid properties are {sorted(self.accepted_properties)}")

    def price(self, usage: ChargeUsage) -> PricedAmount:
        """Return the unrounded amount for ``usage``, computed in ``BILLING_CONTEXT``."""
        if usage.quantity < 0:
            raise ValueError(f"{self.where}: quantity must not be negative, found {usage.quantity}")
        with localcontext(BILLING_CONTEXT):
            return self._price(usage)

    @abstractmethod
    def _price(self, usage: ChargeUsage) -> PricedAmount:
        """Compute the unrounded amount inside the billing decimal context."""

    @property
    def needs_transactions(self) -> bool:
        return False


def read_decimal(
    properties: Mapping[str, Any],
    key: str,
    where: str,
    problems: list[str],
    *,
    required: bool = True,
    default: Decimal | None = None,
    positive: bool = False,
) -> Decimal | None:
    """Read a non-negative decimal written as a string; floats are rejected.

    A YAML float such as ``0.1`` is already binary when it reaches Python, so
    the exact value the author meant is lost. The message requests quotes.
    """
    if key not in properties or properties[key] is None:
        if required:
            problems.append(f"{where}: {key} is missing; write it as a decimal string such as \"0.10\"")
        return default
    value = properties[key]
    number = parse_decimal(value, key, where, problems)
    if number is None:
        return default
    if number < 0:
        problems.append(f"{where}: {key} must be a decimal >= 0, found {value!r}")
        return default
    if positive and number == 0:
        problems.append(f"{where}: {key} must be greater than 0, found {value!r}")
        return default
    return number


def parse_decimal(value: Any, key: str, where: str, problems: list[str]) -> Decimal | None:
    """Convert a decimal string or YAML integer that fits DECIMAL(38, 12) to ``Decimal``.

    Appends a problem and returns None when the value does not convert or fit.
    A value whose digits beyond the 12th fractional digit are all zeros is
    returned rescaled to 12 fractional digits, with the same value.
    """
    if isinstance(value, bool):
        problems.append(f"{where}: {key} must be a decimal string such as \"0.10\", found boolean {value!r}")
        return None
    if isinstance(value, float):
        problems.append(f"{where}: {key} must be a decimal string such as \"{value}\" in quotes, found float {value!r}")
        return None
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal) and value.is_finite():
        number = value
    elif isinstance(value, str) and DECIMAL_TEXT.fullmatch(value.strip()):
        number = Decimal(value.strip())
    else:
        problems.append(f"{where}: {key} must be a decimal string such as \"0.10\", found {value!r}")
        return None
    problem = decimal_size_problem(number)
    if problem:
        problems.append(f"{where}: {key} {problem}, found {_shorten(value)}")
        return None
    if number.as_tuple().exponent < -MAX_FRACTION_DIGITS:
        number = number.quantize(FRACTION_QUANTUM)
    return number


def decimal_size_problem(number: Decimal) -> str | None:
    """Return why a finite ``number`` does not fit DECIMAL(38, 12), or None when it fits."""
    if number.is_zero():
        return None
    sign, digits, exponent = number.as_tuple()
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    fraction_digits = max(0, -(exponent + trailing_zeros))
    integer_digits = max(0, number.adjusted() + 1)
    if integer_digits > MAX_INTEGER_DIGITS:
        return f"must have at most {MAX_INTEGER_DIGITS} digits before the decimal point (DECIMAL(38, 12))"
    if fraction_digits > MAX_FRACTION_DIGITS:
        return f"must have at most {MAX_FRACTION_DIGITS} digits after the decimal point (DECIMAL(38, 12))"
    return None


def unknown_keys(mapping: Mapping[Any, Any], valid: Iterable[str]) -> list[Any]:
    """Return the keys of ``mapping`` not in ``valid``, sorted by their text so mixed key types sort."""
    return sorted(set(mapping) - set(valid), key=lambda key: (str(key), type(key).__name__))


def _shorten(value: Any, limit: int = 40) -> str:
    # A rejected value may be thousands of digits long; show its start and length.
    try:
        text = repr(value)
    except ValueError:
        # Python raises ValueError when it converts an integer of more than
        # 4300 digits to text (sys.int_info.default_max_str_digits).
        return f"an integer of {value.bit_length()} bits"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Tier:
    """One price tier: units in ``(lower, upper]`` (``upper`` None means unbounded)."""

    lower: Decimal
    upper: Decimal | None
    unit_price: Decimal
    flat_fee: Decimal


def read_tiers(properties: Mapping[str, Any], where: str, problems: list[str]) -> tuple[Tier, ...]:
    """Parse ``tiers``: ascending inclusive ``up_to`` bounds, the last one null.

    ``up_to`` is inclusive, so a quantity exactly on a bound belongs to the
    lower tier; the next tier starts just above it.
    """
    raw_tiers = properties.get("tiers")
    if not isinstance(raw_tiers, Sequence) or isinstance(raw_tiers, str) or not raw_tiers:
        problems.append(f"{where}: tiers must be a non-empty list of {{up_to, unit_price, flat_fee}}, found {raw_tiers!r}")
        return ()
    tiers: list[Tier] = []
    lower = ZERO
    for index, raw in enumerate(raw_tiers):
        tier_where = f"{where}.tiers[{index}]"
        if not isinstance(raw, Mapping):
            problems.append(f"{tier_where}: expected a mapping, found {raw!r}")
            continue
        unknown = unknown_keys(raw, TIER_KEYS)
        misspelled_up_to = "up_to" not in raw and bool(
            difflib.get_close_matches("up_to", [str(key) for key in unknown], n=1))
        if unknown:
            hint = "; did you mean up_to?" if misspelled_up_to else ""
            problems.append(f"{tier_where}: unknown keys {unknown}; valid keys are {sorted(TIER_KEYS)}{hint}")
        is_last = index == len(raw_tiers) - 1
        upper = None
        if raw.get("up_to") is not None:
            upper = read_decimal(raw, "up_to", tier_where, problems, positive=True)
            if upper is not None and upper <= lower:
                problems.append(f"{tier_where}: up_to must be greater than the previous bound {lower}, found {upper}")
        # An invalid or misspelled up_to is already reported; calling the
        # tier unbounded as well would point at the wrong fix.
        up_to_reported = upper is None and (raw.get("up_to") is not None or misspelled_up_to)
        if is_last and upper is not None:
            problems.append(f"{tier_where}: the last tier must have up_to: null (unbounded), found {upper}")
        if not is_last and upper is None and not up_to_reported:
            problems.append(f"{tier_where}: only the last tier may be unbounded; set up_to")
        unit_price = read_decimal(raw, "unit_price", tier_where, problems, required=False, default=ZERO)
        flat_fee = read_decimal(raw, "flat_fee", tier_where, problems, required=False, default=ZERO)
        tiers.append(Tier(lower=lower, upper=upper, unit_price=unit_price or ZERO, flat_fee=flat_fee or ZERO))
        if upper is not None and upper > lower:
            lower = upper
    return tuple(tiers)
