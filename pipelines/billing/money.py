"""Decimal arithmetic for money: the context, currency minor units, rounding.

Every amount is computed unrounded in ``BILLING_CONTEXT`` (60 significant
digits, so no intermediate product of a quantity and a price loses a digit) and
rounded once per invoice line with ``round_line``.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from pipelines.errors import ConfigError

BILLING_CONTEXT = decimal.Context(
    prec=60,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

# Digits after the decimal point of each currency's minor unit (ISO 4217).
MINOR_UNITS: dict[str, int] = {
    "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2,
    "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2,
    "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "MXN": 2,
    "NOK": 2, "NZD": 2, "OMR": 3, "PLN": 2, "SEK": 2, "SGD": 2, "TND": 3,
    "USD": 2, "VND": 0, "ZAR": 2,
}

ROUNDING_MODES = (
    decimal.ROUND_HALF_UP,
    decimal.ROUND_HALF_EVEN,
    decimal.ROUND_HALF_DOWN,
    decimal.ROUND_UP,
    decimal.ROUND_DOWN,
    decimal.ROUND_CEILING,
    decimal.ROUND_FLOOR,
)
DEFAULT_ROUNDING = decimal.ROUND_HALF_UP


def minor_unit_exponent(currency: str) -> Decimal:
    """Return the quantum of ``currency``'s minor unit: 0.01 for USD, 1 for JPY."""
    return Decimal(1).scaleb(-MINOR_UNITS[currency])


def round_line(amount: Decimal, currency: str, rounding: str = DEFAULT_ROUNDING) -> Decimal:
    """Round one line amount to the minor unit of ``currency`` with ``rounding``.

    >>> round_line(Decimal("2.345"), "USD")
    Decimal('2.35')
    >>> round_line(Decimal("2.5"), "JPY", "ROUND_HALF_EVEN")
    Decimal('2')
    """
    return amount.quantize(minor_unit_exponent(currency), rounding=rounding, context=BILLING_CONTEXT)


def rounding_mode(settings_billing: dict, source: str = "the environment file") -> str:
    """Return the configured rounding mode name, or raise ``ConfigError`` naming ``source`` for an unknown one."""
    mode = settings_billing.get("rounding", DEFAULT_ROUNDING)
    if mode not in ROUNDING_MODES:
        raise ConfigError(source, [f"billing.rounding must be one of {list(ROUNDING_MODES)}, found {mode!r}"])
    return mode
