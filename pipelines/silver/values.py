"""Read meter values out of an event's ``data`` JSON without losing digits.

``get_json_object`` parses JSON numbers as doubles and prints them again, so
``0.0002355203`` comes back as ``2.355203E-4`` and long decimals lose digits.
Spark's VARIANT keeps a JSON number that fits ``DECIMAL(38)`` as a decimal, so
reading the value through ``parse_json`` returns the producer's exact digits.
"""

from __future__ import annotations

from pyspark.sql import Column as SparkColumn
from pyspark.sql import functions as F

# Variant types that hold a number exactly as written. A JSON number with an
# exponent, or beyond 38 digits, becomes DOUBLE and is rejected by validation.
EXACT_NUMBER_TYPES = ("TINYINT", "SMALLINT", "INT", "BIGINT")


def value_text(data_column: str, value_path: str, parsed: bool = False) -> SparkColumn:
    """Extract the value at ``value_path`` of the JSON in ``data_column``.

    ``data_column`` holds JSON text, or a VARIANT already parsed when
    ``parsed`` is set. Numbers come back with their exact digits, and NULL
    when the value is absent. ``value_path`` is validated by configuration as
    ``$.name(.name)*``.
    """
    return F.expr(f"variant_get({_variant(data_column, parsed)}, '{value_path}', 'string')")


def is_exact_number_or_text(data_column: str, value_path: str, parsed: bool = False) -> SparkColumn:
    """True when the value is a JSON string or a number that the variant kept exactly."""
    kind = F.expr(f"schema_of_variant(variant_get({_variant(data_column, parsed)}, '{value_path}'))")
    return kind.startswith("DECIMAL") | kind.isin(*EXACT_NUMBER_TYPES) | (kind == "STRING")


def _variant(data_column: str, parsed: bool) -> str:
    return f"`{data_column}`" if parsed else f"try_parse_json(`{data_column}`)"
