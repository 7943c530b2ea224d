"""Schemas of gold.invoices and gold.invoice_lines.

Amounts are ``DECIMAL(38, 6)``: each line is already rounded to its currency's
minor unit (at most 3 digits), so 6 digits keep any currency exact. Quantities
are ``DECIMAL(38, 12)`` like gold usage. A flat fee's quantity is the fraction
of the period served, stored rounded half-even to 12 digits; its amount was
computed from the exact fraction.
"""

from pyspark.sql.types import (
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from pipelines.billing.vocabulary import InvoiceColumn as I
from pipelines.schemas import QUANTITY_TYPE

AMOUNT_TYPE = DecimalType(38, 6)
AMOUNT_SCALE = 6
QUANTITY_SCALE = 12

INVOICES = StructType([
    StructField(I.TENANT_ID, StringType(), False),
    StructField(I.INVOICE_ID, StringType(), False),
    StructField(I.PERIOD, StringType(), False),
    StructField(I.DOCUMENT_TYPE, StringType(), False),
    StructField(I.STATUS, StringType(), False),
    StructField(I.ISSUER, StringType(), False),
    StructField(I.INVOICE_NUMBER, StringType(), True),
    StructField(I.SEQUENCE, LongType(), True),
    StructField(I.CURRENCY, StringType(), False),
    StructField(I.BILLING_TIMEZONE, StringType(), False),
    StructField(I.PERIOD_START, TimestampType(), False),
    StructField(I.PERIOD_END, TimestampType(), False),
    StructField(I.SUBTOTAL, AMOUNT_TYPE, False),
    StructField(I.DISCOUNT_TOTAL, AMOUNT_TYPE, False),
    StructField(I.CREDITS_APPLIED, AMOUNT_TYPE, False),
    StructField(I.CREDIT_BALANCE, AMOUNT_TYPE, False),
    StructField(I.TAX_TOTAL, AMOUNT_TYPE, False),
    StructField(I.TOTAL, AMOUNT_TYPE, False),
    StructField(I.LINE_COUNT, IntegerType(), False),
    StructField(I.SILVER_VERSION, LongType(), True),
    StructField(I.GOLD_VERSION, LongType(), True),
    StructField(I.PRICE_BOOK_SHA256, StringType(), False),
    StructField(I.PLANS_SHA256, StringType(), False),
    StructField(I.REFERENCES_INVOICE_ID, StringType(), True),
    StructField(I.REFERENCES_PERIOD, StringType(), True),
    StructField(I.REASON, StringType(), True),
    StructField(I.FINALIZED_AT, TimestampType(), True),
    StructField(I.VOIDED_AT, TimestampType(), True),
])

INVOICE_LINES = StructType([
    StructField(I.TENANT_ID, StringType(), False),
    StructField(I.INVOICE_ID, StringType(), False),
    StructField(I.PERIOD, StringType(), False),
    StructField(I.DOCUMENT_TYPE, StringType(), False),
    StructField(I.LINE_NUMBER, IntegerType(), False),
    StructField(I.LINE_TYPE, StringType(), False),
    StructField(I.PLAN_ID, StringType(), True),
    StructField(I.CHARGE_ID, StringType(), True),
    StructField(I.METER, StringType(), True),
    StructField(I.PRICING_MODEL, StringType(), True),
    StructField(I.DIMENSIONS, StringType(), True),
    StructField(I.QUANTITY, QUANTITY_TYPE, True),
    StructField(I.UNIT_PRICE, QUANTITY_TYPE, True),
    StructField(I.AMOUNT, AMOUNT_TYPE, False),
    StructField(I.CURRENCY, StringType(), False),
    StructField(I.SERVICE_START, TimestampType(), True),
    StructField(I.SERVICE_END, TimestampType(), True),
    StructField(I.DESCRIPTION, StringType(), False),
    StructField(I.DETAILS, StringType(), False),
    StructField(I.REFERENCES_INVOICE_ID, StringType(), True),
    StructField(I.REFERENCES_PERIOD, StringType(), True),
])
