"""Invoice documents in Delta: draft upserts, finalization, voiding, credit notes.

Keys: an invoice is identified by (tenant_id, period, document_type), and its
``invoice_id`` is a UUID 5 of those three values, so a rerun finds and replaces
the same draft instead of adding one. Lines are keyed by (tenant_id,
invoice_id, line_number).

Guarantees:
- Only drafts are rewritten. Every MERGE that updates a header or deletes
  lines is conditioned on the invoice being a draft, and the writers drop
  finalized or voided invoices from their input before they merge.
- Lines are merged before headers. A crash between the two leaves a header
  whose lines do not add up to its total. Finalization checks every draft's
  lines against its total and line count, and it rejects such a draft until a
  rerun rewrites it.
- Numbers are assigned when an invoice is finalized, in the same commit, one
  gap-free sequence per issuer and document type, in (period end, tenant id)
  order. Two finalizers running at once conflict in Delta's optimistic
  concurrency check and one of them fails instead of reusing a number.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.billing.schemas import INVOICE_LINES, INVOICES, QUANTITY_SCALE
from pipelines.billing.vocabulary import DocumentType, LineType
from pipelines.billing.vocabulary import InvoiceColumn as I
from pipelines.config import Settings
from pipelines.errors import BillingError
from pipelines.tables import delta_table, ensure_table, read_table, table_exists
from pipelines.vocabulary import InvoiceStatus, Table

log = logging.getLogger(__name__)

INVOICE_NAMESPACE = uuid.UUID("6f1c1a52-7c1e-5b8e-9d43-2f7c8a0e6b11")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NUMBER_PREFIX = {DocumentType.INVOICE: "", DocumentType.CREDIT_NOTE: "CN-"}
HEADER_KEY = (I.TENANT_ID, I.PERIOD, I.DOCUMENT_TYPE, I.INVOICE_ID)
LINE_KEY = (I.TENANT_ID, I.INVOICE_ID, I.LINE_NUMBER)


@dataclass(frozen=True)
class InvoiceDocument:
    """One header row of gold.invoices (a dict in schema order) and its line rows."""

    header: dict
    lines: tuple[dict, ...]

    @property
    def invoice_id(self) -> str:
        return self.header[I.INVOICE_ID]


def invoice_id_for(tenant_id: str, period: str, document_type: DocumentType) -> str:
    """Return the deterministic id of a tenant's document for a period.

    >>> invoice_id_for("acme", "2026-11", DocumentType.INVOICE) == invoice_id_for("acme", "2026-11", DocumentType.INVOICE)
    True
    """
    return str(uuid.uuid5(INVOICE_NAMESPACE, f"{tenant_id}\x1f{period}\x1f{document_type.value}"))


def document_number(issuer: str, document_type: DocumentType, sequence: int) -> str:
    return f"{issuer}-{NUMBER_PREFIX[document_type]}{sequence:08d}"


def ensure_invoice_tables(spark: SparkSession, settings: Settings) -> None:
    ensure_table(spark, settings, Table.GOLD_INVOICES, INVOICES, partition_by=(I.PERIOD,))
    ensure_table(spark, settings, Table.GOLD_INVOICE_LINES, INVOICE_LINES, partition_by=(I.PERIOD,))


def quantize_quantity(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-QUANTITY_SCALE), rounding=ROUND_HALF_EVEN)


def read_headers(spark: SparkSession, settings: Settings, tenant_ids: Iterable[str] | None = None,
                 version: int | None = None) -> list[dict]:
    """Return invoice headers as dicts with UTC-aware timestamps; all tenants when ``tenant_ids`` is None.

    ``version`` reads gold.invoices as of that Delta version instead of the latest.
    """
    if version is None and not table_exists(spark, settings, Table.GOLD_INVOICES):
        return []
    frame = read_table(spark, settings, Table.GOLD_INVOICES, version)
    if tenant_ids is not None:
        frame = frame.where(F.col(I.TENANT_ID).isin(sorted(set(tenant_ids))))
    timestamps = (I.PERIOD_START, I.PERIOD_END, I.FINALIZED_AT, I.VOIDED_AT)
    return [_with_aware_times(row, timestamps) for row in _collect_with_micros(frame, timestamps)]


def read_lines(spark: SparkSession, settings: Settings, frame_filter=None, version: int | None = None) -> list[dict]:
    """Return invoice lines as dicts (UTC-aware service times), filtered by a Column when given.

    ``version`` reads gold.invoice_lines as of that Delta version instead of the latest.
    """
    if version is None and not table_exists(spark, settings, Table.GOLD_INVOICE_LINES):
        return []
    frame = read_table(spark, settings, Table.GOLD_INVOICE_LINES, version)
    if frame_filter is not None:
        frame = frame.where(frame_filter)
    timestamps = (I.SERVICE_START, I.SERVICE_END)
    return [_with_aware_times(row, timestamps) for row in _collect_with_micros(frame, timestamps)]


def _collect_with_micros(frame: DataFrame, timestamps: Sequence[str]) -> list[dict]:
    # Collecting a timestamp gives a naive datetime in the driver's local zone;
    # microseconds since the epoch stay exact whatever that zone is.
    columns = [F.unix_micros(name).alias(name) if name in timestamps else F.col(name) for name in frame.columns]
    return [row.asDict() for row in frame.select(*columns).collect()]


def _with_aware_times(row: dict, timestamps: Sequence[str]) -> dict:
    for name in timestamps:
        if row.get(name) is not None:
            row[name] = EPOCH + timedelta(microseconds=row[name])
    return row


def write_documents(spark: SparkSession, settings: Settings, documents: Sequence[InvoiceDocument]) -> list[str]:
    """Upsert draft documents; return the ids written. Idempotent.

    Documents whose stored version is not a draft are left untouched and
    logged; rerunning with the same documents writes the same rows.
    """
    ensure_invoice_tables(spark, settings)
    statuses = _stored_statuses(spark, settings, [document.invoice_id for document in documents])
    writable = []
    for document in documents:
        status = statuses.get(document.invoice_id)
        if status not in (None, InvoiceStatus.DRAFT.value):
            log.warning("invoice %s (tenant %s, period %s) is %s; it is not rewritten",
                        document.invoice_id, document.header[I.TENANT_ID], document.header[I.PERIOD], status)
            continue
        writable.append(document)
    if not writable:
        return []
    ids = [document.invoice_id for document in writable]
    lines = [line for document in writable for line in document.lines]
    _merge_lines(spark, settings, lines, ids)
    _merge_headers(spark, settings, [document.header for document in writable])
    return ids


def _stored_statuses(spark, settings, invoice_ids: Sequence[str]) -> dict[str, str]:
    if not invoice_ids:
        return {}
    rows = (read_table(spark, settings, Table.GOLD_INVOICES)
            .where(F.col(I.INVOICE_ID).isin(sorted(set(invoice_ids))))
            .select(I.INVOICE_ID, I.STATUS).collect())
    return {row[I.INVOICE_ID]: row[I.STATUS] for row in rows}


def _merge_lines(spark, settings, lines: Sequence[dict], draft_ids: Sequence[str]) -> None:
    source = spark.createDataFrame([tuple(line[field.name] for field in INVOICE_LINES) for line in lines], INVOICE_LINES)
    rewritten = ", ".join(f"'{invoice_id}'" for invoice_id in sorted(set(draft_ids)))
    (delta_table(spark, settings, Table.GOLD_INVOICE_LINES).alias("t")
     .merge(source.alias("s"), " AND ".join(f"t.{key} = s.{key}" for key in LINE_KEY))
     .whenMatchedUpdateAll()
     .whenNotMatchedInsertAll()
     # Lines a draft no longer has (fewer charges, no discount) go away; the
     # condition keeps every other invoice's lines out of reach.
     .whenNotMatchedBySourceDelete(condition=f"t.{I.INVOICE_ID} IN ({rewritten})")
     .execute())


def _merge_headers(spark, settings, headers: Sequence[dict]) -> None:
    source = spark.createDataFrame([tuple(header[field.name] for field in INVOICES) for header in headers], INVOICES)
    (delta_table(spark, settings, Table.GOLD_INVOICES).alias("t")
     .merge(source.alias("s"), " AND ".join(f"t.{key} = s.{key}" for key in HEADER_KEY))
     .whenMatchedUpdateAll(condition=f"t.{I.STATUS} = '{InvoiceStatus.DRAFT.value}'")
     .whenNotMatchedInsertAll()
     .execute())


def finalize_invoices(
    spark: SparkSession,
    settings: Settings,
    period: str,
    tenant_ids: Iterable[str] | None,
    grace: timedelta,
    now: datetime,
) -> list[dict]:
    """Finalize the drafts of ``period`` whose period ended at least ``grace`` before ``now``.

    Returns the finalized headers. A draft whose lines do not add up to its
    total (a crash between the two writes) is rejected with a BillingError.
    """
    issuer = str(settings.billing.get("issuer", "meterhouse"))
    drafts = [header for header in read_headers(spark, settings, tenant_ids)
              if header[I.PERIOD] == period and header[I.STATUS] == InvoiceStatus.DRAFT.value
              and header[I.DOCUMENT_TYPE] == DocumentType.INVOICE.value]
    due = [header for header in drafts if header[I.PERIOD_END] + grace <= now]
    for header in drafts:
        if header not in due:
            log.info("invoice %s (tenant %s) stays a draft until %s (grace period)", header[I.INVOICE_ID],
                     header[I.TENANT_ID], (header[I.PERIOD_END] + grace).isoformat())
    if not due:
        return []
    if due:
        # Imported here to keep great-expectations out of billing's import time.
        from pipelines.quality.gate import assert_can_finalize

        assert_can_finalize(spark, settings, period, [header[I.TENANT_ID] for header in due])
    _check_lines_match(spark, settings, due)

    sequence = _max_sequence(spark, settings, issuer, DocumentType.INVOICE)
    finalized = []
    for header in sorted(due, key=lambda item: (item[I.PERIOD_END], item[I.TENANT_ID])):
        sequence += 1
        finalized.append(dict(header, **{I.STATUS: InvoiceStatus.FINALIZED.value, I.ISSUER: issuer,
                                         I.SEQUENCE: sequence, I.FINALIZED_AT: now,
                                         I.INVOICE_NUMBER: document_number(issuer, DocumentType.INVOICE, sequence)}))
    _merge_headers(spark, settings, finalized)
    return finalized


def _check_lines_match(spark, settings, headers: Sequence[dict]) -> None:
    ids = [header[I.INVOICE_ID] for header in headers]
    sums = {row[I.INVOICE_ID]: (row["amount_sum"], row["line_count"]) for row in (
        read_table(spark, settings, Table.GOLD_INVOICE_LINES).where(F.col(I.INVOICE_ID).isin(ids))
        .groupBy(I.INVOICE_ID).agg(F.sum(I.AMOUNT).alias("amount_sum"), F.count("*").alias("line_count")).collect())}
    broken = []
    for header in headers:
        amount, count = sums.get(header[I.INVOICE_ID], (Decimal(0), 0))
        if amount != header[I.TOTAL] or count != header[I.LINE_COUNT]:
            broken.append(f"{header[I.INVOICE_ID]} (tenant {header[I.TENANT_ID]}: total {header[I.TOTAL]}, "
                          f"lines add up to {amount} in {count} lines, expected {header[I.LINE_COUNT]})")
    if broken:
        raise BillingError("drafts whose lines do not match their totals cannot be finalized; rerun "
                           f"`meterhouse invoice --period ...` to rewrite them: {'; '.join(broken)}")


def _max_sequence(spark, settings, issuer: str, document_type: DocumentType) -> int:
    row = (read_table(spark, settings, Table.GOLD_INVOICES)
           .where((F.col(I.ISSUER) == issuer) & (F.col(I.DOCUMENT_TYPE) == document_type.value))
           .agg(F.max(I.SEQUENCE).alias("sequence")).collect()[0])
    return int(row["sequence"] or 0)


def find_document(spark: SparkSession, settings: Settings, invoice_id: str) -> dict:
    headers = [header for header in read_headers(spark, settings) if header[I.INVOICE_ID] == invoice_id]
    if not headers:
        raise BillingError(f"invoice {invoice_id!r} not found in {Table.GOLD_INVOICES.value}; "
                           f"list ids with a query on {I.INVOICE_ID}")
    return headers[0]


def void_invoice(spark: SparkSession, settings: Settings, invoice_id: str, now: datetime, reason: str) -> dict:
    """Void a document: a draft becomes voided; a finalized invoice gets a credit note.

    A finalized invoice never changes, so voiding it issues a full credit note
    that names it; the original header and lines stay as they were.
    """
    header = find_document(spark, settings, invoice_id)
    if header[I.STATUS] == InvoiceStatus.VOIDED.value:
        raise BillingError(f"invoice {invoice_id} is already voided")
    if header[I.STATUS] == InvoiceStatus.FINALIZED.value:
        return issue_credit_note(spark, settings, invoice_id, now, reason or "void")
    voided = dict(header, **{I.STATUS: InvoiceStatus.VOIDED.value, I.VOIDED_AT: now, I.REASON: reason or "void"})
    _merge_headers(spark, settings, [voided])
    _append_to_ledger(spark, settings, [voided])
    return voided


def issue_credit_note(spark: SparkSession, settings: Settings, invoice_id: str, now: datetime, reason: str) -> dict:
    """Issue a finalized credit note reversing every line of a finalized invoice.

    The credit note has its own number from the issuer's credit-note sequence,
    names the original in ``references_invoice_id`` and leaves the original
    rows intact. One credit note per invoice: a second request raises.
    """
    original = find_document(spark, settings, invoice_id)
    if original[I.STATUS] != InvoiceStatus.FINALIZED.value or original[I.DOCUMENT_TYPE] != DocumentType.INVOICE.value:
        raise BillingError(f"cannot credit {invoice_id}: it is a {original[I.STATUS]} {original[I.DOCUMENT_TYPE]}, "
                           f"but only a finalized invoice can be credited. Void a draft instead.")
    note_id = invoice_id_for(original[I.TENANT_ID], original[I.PERIOD], DocumentType.CREDIT_NOTE)
    if any(header[I.INVOICE_ID] == note_id for header in read_headers(spark, settings, [original[I.TENANT_ID]])):
        raise BillingError(f"invoice {invoice_id} already has credit note {note_id}")

    issuer = original[I.ISSUER]
    sequence = _max_sequence(spark, settings, issuer, DocumentType.CREDIT_NOTE) + 1
    lines = read_lines(spark, settings, F.col(I.INVOICE_ID) == invoice_id)
    reversed_lines = tuple(
        dict(line, **{I.INVOICE_ID: note_id, I.DOCUMENT_TYPE: DocumentType.CREDIT_NOTE.value,
                      I.LINE_TYPE: LineType.REVERSAL.value, I.AMOUNT: -line[I.AMOUNT],
                      I.DESCRIPTION: f"Reversal: {line[I.DESCRIPTION]}",
                      # A reversed adjustment keeps naming the invoice it corrected, so
                      # that correction becomes due again on the next invoice.
                      I.REFERENCES_INVOICE_ID: line[I.REFERENCES_INVOICE_ID],
                      I.REFERENCES_PERIOD: line[I.REFERENCES_PERIOD]})
        for line in sorted(lines, key=lambda item: item[I.LINE_NUMBER]))
    negated = {name: -original[name] for name in (I.SUBTOTAL, I.DISCOUNT_TOTAL, I.CREDITS_APPLIED, I.TAX_TOTAL, I.TOTAL)}
    note = dict(original, **negated, **{
        I.INVOICE_ID: note_id, I.DOCUMENT_TYPE: DocumentType.CREDIT_NOTE.value,
        I.STATUS: InvoiceStatus.FINALIZED.value, I.SEQUENCE: sequence,
        I.INVOICE_NUMBER: document_number(issuer, DocumentType.CREDIT_NOTE, sequence),
        I.REFERENCES_INVOICE_ID: invoice_id, I.REFERENCES_PERIOD: original[I.PERIOD], I.REASON: reason or "credit",
        I.FINALIZED_AT: now, I.VOIDED_AT: None, I.CREDIT_BALANCE: original[I.CREDIT_BALANCE] + original[I.CREDITS_APPLIED],
    })
    if reversed_lines:
        _merge_lines(spark, settings, reversed_lines, [note_id])
    _merge_headers(spark, settings, [note])
    _append_to_ledger(spark, settings, [note])
    return note


def with_header(document: InvoiceDocument, **changes) -> InvoiceDocument:
    return replace(document, header=dict(document.header, **changes))


def _append_to_ledger(spark: SparkSession, settings: Settings, headers: Sequence[dict]) -> None:
    """Record documents in the tamper-evident ledger (``audit.invoice_ledger``)."""
    # Imported here: the ledger module imports billing, so a top-level import
    # would be circular.
    from pipelines.audit.ledger import append_documents

    append_documents(spark, settings, headers)
