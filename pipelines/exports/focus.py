"""FOCUS 1.0 rows of billed usage: one row per line of a finalized invoice or credit note.

Costs: BilledCost, EffectiveCost and ContractedCost are the line amount in the
invoice currency (already rounded to the minor unit). ListCost is the amount
for charges and 0 for discounts, credits and taxes, which have no list price.
ChargeClass is ``Correction`` for lines that correct a closed period: an
adjustment line, or any line of a credit note. ``x_InvoiceId`` names the
document. Drafts are not billed yet and are left out.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa

from pipelines.billing.vocabulary import DocumentType, LineType, PricingModel
from pipelines.billing.vocabulary import InvoiceColumn as I
from pipelines.config import Settings
from pipelines.exports.datasets import Dataset
from pipelines.vocabulary import InvoiceStatus

SERVICE_NAME = "meterhouse"
DECIMAL = pa.decimal128(38, 12)
TIMESTAMP = pa.timestamp("us", tz="UTC")

FOCUS_COLUMNS = (
    ("AvailabilityZone", pa.string()), ("BilledCost", DECIMAL), ("BillingAccountId", pa.string()),
    ("BillingAccountName", pa.string()), ("BillingCurrency", pa.string()), ("BillingPeriodEnd", TIMESTAMP),
    ("BillingPeriodStart", TIMESTAMP), ("ChargeCategory", pa.string()), ("ChargeClass", pa.string()),
    ("ChargeDescription", pa.string()), ("ChargeFrequency", pa.string()), ("ChargePeriodEnd", TIMESTAMP),
    ("ChargePeriodStart", TIMESTAMP), ("CommitmentDiscountCategory", pa.string()),
    ("CommitmentDiscountId", pa.string()), ("CommitmentDiscountName", pa.string()),
    ("CommitmentDiscountStatus", pa.string()), ("CommitmentDiscountType", pa.string()),
    ("ConsumedQuantity", DECIMAL), ("ConsumedUnit", pa.string()), ("ContractedCost", DECIMAL),
    ("ContractedUnitPrice", DECIMAL), ("EffectiveCost", DECIMAL), ("InvoiceIssuerName", pa.string()),
    ("ListCost", DECIMAL), ("ListUnitPrice", DECIMAL), ("PricingCategory", pa.string()),
    ("PricingQuantity", DECIMAL), ("PricingUnit", pa.string()), ("ProviderName", pa.string()),
    ("PublisherName", pa.string()), ("RegionId", pa.string()), ("RegionName", pa.string()),
    ("ResourceId", pa.string()), ("ResourceName", pa.string()), ("ResourceType", pa.string()),
    ("ServiceCategory", pa.string()), ("ServiceName", pa.string()), ("SkuId", pa.string()),
    ("SkuPriceId", pa.string()), ("SubAccountId", pa.string()), ("SubAccountName", pa.string()),
    ("Tags", pa.string()), ("x_InvoiceId", pa.string()), ("x_InvoiceNumber", pa.string()),
    ("x_LineNumber", pa.int32()),
)
FOCUS_SCHEMA = pa.schema([pa.field(name, arrow_type, nullable=True) for name, arrow_type in FOCUS_COLUMNS])

CATEGORY = {
    LineType.CHARGE.value: "Usage", LineType.MINIMUM_COMMITMENT.value: "Purchase",
    LineType.DISCOUNT.value: "Credit", LineType.CREDIT.value: "Credit", LineType.TAX.value: "Tax",
    LineType.ADJUSTMENT.value: "Adjustment", LineType.REVERSAL.value: "Adjustment",
}
NO_LIST_PRICE = (LineType.DISCOUNT.value, LineType.CREDIT.value, LineType.TAX.value)


def focus_dataset(invoices: Dataset, lines: Dataset, settings: Settings) -> Dataset:
    """Build the FOCUS rows of every finalized document in ``invoices``, sorted like the lines."""
    headers = {row[I.INVOICE_ID]: row for row in invoices.rows if row[I.STATUS] == InvoiceStatus.FINALIZED.value}
    units = {meter.name: meter.unit for meter in settings.meters}
    rows = tuple(focus_row(headers[line[I.INVOICE_ID]], line, settings, units)
                 for line in lines.rows if line[I.INVOICE_ID] in headers)
    return Dataset("focus", FOCUS_SCHEMA, rows, tenant_column="SubAccountId")


def focus_row(header: dict, line: dict, settings: Settings, units: dict[str, str]) -> dict:
    tenant = settings.tenants.get(header[I.TENANT_ID])
    tenant_name = tenant.name if tenant else header[I.TENANT_ID]
    line_type = line[I.LINE_TYPE]
    is_usage = line[I.METER] is not None
    is_correction = line_type in (LineType.ADJUSTMENT.value, LineType.REVERSAL.value) or (
        header[I.DOCUMENT_TYPE] == DocumentType.CREDIT_NOTE.value)
    category = "Purchase" if line_type == LineType.CHARGE.value and not is_usage else CATEGORY.get(line_type, "Adjustment")
    amount: Decimal = line[I.AMOUNT]
    unit = units.get(line[I.METER]) if is_usage else None
    if line[I.PRICING_MODEL] == PricingModel.FLAT_FEE.value or line_type == LineType.MINIMUM_COMMITMENT.value:
        frequency = "Recurring"
    elif is_usage:
        frequency = "Usage-Based"
    else:
        frequency = "One-Time"
    sku = ":".join(part for part in (line[I.PLAN_ID], line[I.CHARGE_ID]) if part) or None
    return {
        "AvailabilityZone": None, "BilledCost": amount, "BillingAccountId": header[I.TENANT_ID],
        "BillingAccountName": tenant_name, "BillingCurrency": header[I.CURRENCY],
        "BillingPeriodEnd": header[I.PERIOD_END], "BillingPeriodStart": header[I.PERIOD_START],
        "ChargeCategory": category, "ChargeClass": "Correction" if is_correction else None,
        "ChargeDescription": line[I.DESCRIPTION], "ChargeFrequency": frequency,
        "ChargePeriodEnd": line[I.SERVICE_END] or header[I.PERIOD_END],
        "ChargePeriodStart": line[I.SERVICE_START] or header[I.PERIOD_START],
        "CommitmentDiscountCategory": None, "CommitmentDiscountId": None, "CommitmentDiscountName": None,
        "CommitmentDiscountStatus": None, "CommitmentDiscountType": None,
        "ConsumedQuantity": line[I.QUANTITY] if is_usage else None, "ConsumedUnit": unit,
        "ContractedCost": amount, "ContractedUnitPrice": line[I.UNIT_PRICE], "EffectiveCost": amount,
        "InvoiceIssuerName": header[I.ISSUER],
        "ListCost": Decimal(0) if line_type in NO_LIST_PRICE else amount, "ListUnitPrice": line[I.UNIT_PRICE],
        "PricingCategory": "Standard" if line[I.UNIT_PRICE] is not None else None,
        "PricingQuantity": line[I.QUANTITY] if line[I.UNIT_PRICE] is not None else None,
        "PricingUnit": unit if line[I.UNIT_PRICE] is not None else None,
        "ProviderName": header[I.ISSUER], "PublisherName": header[I.ISSUER],
        "RegionId": None, "RegionName": None, "ResourceId": None, "ResourceName": None, "ResourceType": None,
        "ServiceCategory": "Other", "ServiceName": line[I.METER] or SERVICE_NAME, "SkuId": sku,
        "SkuPriceId": _sku_price_id(sku, line[I.DIMENSIONS]), "SubAccountId": header[I.TENANT_ID],
        "SubAccountName": tenant_name, "Tags": line[I.DIMENSIONS] or "{}",
        "x_InvoiceId": header[I.INVOICE_ID], "x_InvoiceNumber": header[I.INVOICE_NUMBER],
        "x_LineNumber": line[I.LINE_NUMBER],
    }


def _sku_price_id(sku: str | None, dimensions: str | None) -> str | None:
    if sku is None:
        return None
    if not dimensions:
        return sku
    keys = json.loads(dimensions)
    return sku + "".join(f":{key}={keys[key]}" for key in sorted(keys))
