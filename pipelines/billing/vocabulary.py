"""Enumerations and column names of the billing tables and plan files.

Kept beside the billing package so that plan parsing, rating and the invoice
writers spell every pricing model, document type and column the same way.
"""

from enum import Enum


class PricingModel(str, Enum):
    """Pricing model of a charge, which turns a quantity into an amount (one module per model)."""

    FLAT_FEE = "flat_fee"
    PER_UNIT = "per_unit"
    GRADUATED = "graduated"
    VOLUME = "volume"
    PACKAGE = "package"
    PERCENTAGE = "percentage"


class BillingTiming(str, Enum):
    """When a flat fee is billed: for the next period (advance) or the past one."""

    ADVANCE = "advance"
    ARREARS = "arrears"


class PeriodKind(str, Enum):
    """Calendar months, or months starting on the subscription's anchor day."""

    CALENDAR = "calendar"
    ANNIVERSARY = "anniversary"


class DiscountKind(str, Enum):
    PERCENTAGE = "percentage"
    AMOUNT = "amount"


class DocumentType(str, Enum):
    """Billing documents; a credit note reverses a finalized invoice."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class LineType(str, Enum):
    """Kinds of invoice lines, in the order they are applied to a total."""

    CHARGE = "charge"
    MINIMUM_COMMITMENT = "minimum_commitment"
    DISCOUNT = "discount"
    ADJUSTMENT = "adjustment"
    CREDIT = "credit"
    TAX = "tax"
    REVERSAL = "reversal"


class InvoiceColumn:
    """Column names of gold.invoices and gold.invoice_lines."""

    TENANT_ID = "tenant_id"
    INVOICE_ID = "invoice_id"
    PERIOD = "period"
    DOCUMENT_TYPE = "document_type"
    STATUS = "status"
    ISSUER = "issuer"
    INVOICE_NUMBER = "invoice_number"
    SEQUENCE = "sequence"
    CURRENCY = "currency"
    BILLING_TIMEZONE = "billing_timezone"
    PERIOD_START = "period_start"
    PERIOD_END = "period_end"
    SUBTOTAL = "subtotal"
    DISCOUNT_TOTAL = "discount_total"
    CREDITS_APPLIED = "credits_applied"
    CREDIT_BALANCE = "credit_balance"
    TAX_TOTAL = "tax_total"
    TOTAL = "total"
    LINE_COUNT = "line_count"
    SILVER_VERSION = "silver_version"
    GOLD_VERSION = "gold_version"
    PRICE_BOOK_SHA256 = "price_book_sha256"
    PLANS_SHA256 = "plans_sha256"
    REFERENCES_INVOICE_ID = "references_invoice_id"
    REFERENCES_PERIOD = "references_period"
    REASON = "reason"
    FINALIZED_AT = "finalized_at"
    VOIDED_AT = "voided_at"

    LINE_NUMBER = "line_number"
    LINE_TYPE = "line_type"
    PLAN_ID = "plan_id"
    CHARGE_ID = "charge_id"
    METER = "meter"
    PRICING_MODEL = "pricing_model"
    DIMENSIONS = "dimensions"
    QUANTITY = "quantity"
    UNIT_PRICE = "unit_price"
    AMOUNT = "amount"
    SERVICE_START = "service_start"
    SERVICE_END = "service_end"
    DESCRIPTION = "description"
    DETAILS = "details"
