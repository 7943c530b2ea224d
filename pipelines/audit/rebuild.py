"""Rebuild issued documents from the table versions they record, and compare.

An invoice records the versions of silver.usage_events and gold.usage_hourly
its usage was read at, and the SHA-256 of the plan file and price books it was
priced with. Rating also depends on the tenant's earlier documents (in-advance
fees already billed, prepaid credits used, late usage already adjusted). Those
come from gold.invoices at the version where the stored draft was written and
from gold.invoice_lines as of that commit's time. The rebuild feeds all of it,
read by Delta time travel, through billing's own ``gather_inputs`` and
``rate_gathered``, so the audit checks the code that billed, not a copy of it.

A credit note is checked against the invoice it reverses: every line negated,
every total negated, nothing else changed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.audit.errors import AuditError, VersionUnavailableError
from pipelines.audit.retention import export_manifest_path, retention_settings
from pipelines.billing import compute
from pipelines.billing.documents import read_headers, read_lines
from pipelines.billing.plans import PlanCatalog, load_plans
from pipelines.billing.schemas import INVOICE_LINES, INVOICES
from pipelines.billing.usage import SourceVersions
from pipelines.billing.vocabulary import DocumentType, LineType
from pipelines.billing.vocabulary import InvoiceColumn as I
from pipelines.config import Settings
from pipelines.tables import current_version, delta_table, read_table
from pipelines.vocabulary import InvoiceStatus, Table

log = logging.getLogger(__name__)

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HEADER_TIMES = (I.PERIOD_START, I.PERIOD_END, I.FINALIZED_AT, I.VOIDED_AT)

# Set when a document is finalized, voided or numbered, after it was rated;
# a rebuild of the rating cannot reproduce them.
LIFECYCLE_FIELDS = frozenset({I.STATUS, I.ISSUER, I.INVOICE_NUMBER, I.SEQUENCE, I.FINALIZED_AT, I.VOIDED_AT, I.REASON})
NEGATED_TOTALS = (I.SUBTOTAL, I.DISCOUNT_TOTAL, I.CREDITS_APPLIED, I.TAX_TOTAL, I.TOTAL)

# Texts in Spark and Delta errors that mean a version's log entry or data
# files are gone (Delta Lake 4.x, Spark 4.x).
UNAVAILABLE_MARKERS = ("VersionNotFoundException", "DELTA_VERSIONS_NOT_CONTIGUOUS", "DELTA_FILE_NOT_FOUND",
                       "FILE_NOT_EXIST", "FileNotFoundException", "DELTA_TIME_TRAVEL_INVALID_BEGIN_VALUE",
                       "DELTA_NO_COMMITS_FOUND", "DELTA_CANNOT_RECONSTRUCT_PATH_FROM_URI",
                       "DELTA_VERSION_NOT_FOUND", "cannot time travel")


@dataclass(frozen=True)
class Sources:
    """Where a rebuild read its inputs: table versions and configuration hashes."""

    silver_version: int | None
    gold_version: int | None
    invoices_version: int | None
    invoice_lines_version: int | None
    plans_sha256: str
    price_book_sha256: str
    reverses_invoice_id: str | None = None

    def describe(self) -> str:
        if self.reverses_invoice_id:
            return f"reversal of invoice {self.reverses_invoice_id} as stored"
        return (f"silver.usage_events v{self.silver_version}, gold.usage_hourly v{self.gold_version}, "
                f"gold.invoices v{self.invoices_version}, gold.invoice_lines v{self.invoice_lines_version}, "
                f"plans sha256 {self.plans_sha256[:12]}, price books sha256 {self.price_book_sha256[:12] or '-'}")


@dataclass(frozen=True)
class Difference:
    """One value that differs: ``location`` is ``header <column>``, ``line <n> <column>`` or ``line <n>``."""

    location: str
    stored: str | None
    rebuilt: str | None


@dataclass(frozen=True)
class DocumentAudit:
    """The result of rebuilding one document and comparing it with the stored one."""

    invoice_id: str
    tenant_id: str
    period: str
    document_type: str
    status: str
    invoice_number: str | None
    sources: Sources
    differences: tuple[Difference, ...]

    @property
    def is_identical(self) -> bool:
        return not self.differences


def audit_document(spark: SparkSession, settings: Settings, invoice_id: str, plans_path: Path | None = None,
                   price_book: Path | None = None) -> DocumentAudit:
    """Rebuild the document ``invoice_id`` by time travel and compare it with gold; write nothing.

    ``plans_path`` and ``price_book`` name the plan file and price book the
    document was priced with when they are no longer the configured ones;
    their SHA-256 must match what the document recorded. Raises
    ``VersionUnavailableError`` when a recorded version is outside its
    table's retention window, and ``AuditError`` for anything else that
    prevents a rebuild.
    """
    header = _stored_header(spark, settings, invoice_id)
    if header[I.DOCUMENT_TYPE] == DocumentType.CREDIT_NOTE.value:
        return _audit_credit_note(spark, settings, header)
    return _audit_invoice(spark, settings, header, plans_path, price_book)


def audit_tenant_period(spark: SparkSession, settings: Settings, tenant_id: str, period: str,
                        plans_path: Path | None = None, price_book: Path | None = None) -> list[DocumentAudit]:
    """Audit every document of ``tenant_id`` for ``period`` and every later document that corrects it.

    Corrections are credit notes of the period's invoice and invoices with an
    adjustment line that names it. Raises ``AuditError`` when the tenant has no
    document for the period.
    """
    headers = read_headers(spark, settings, [tenant_id])
    own = [header for header in headers if header[I.PERIOD] == period]
    if not own:
        raise AuditError(f"tenant {tenant_id!r} has no document for period {period} in {Table.GOLD_INVOICES.value}")
    own_ids = {header[I.INVOICE_ID] for header in own}
    correcting = {line[I.INVOICE_ID] for line in read_lines(
        spark, settings, (F.col(I.TENANT_ID) == tenant_id) & F.col(I.REFERENCES_INVOICE_ID).isin(sorted(own_ids)))}
    ordered = sorted(own, key=lambda header: (header[I.DOCUMENT_TYPE] != DocumentType.INVOICE.value, header[I.INVOICE_ID]))
    ordered += sorted((header for header in headers if header[I.INVOICE_ID] in correcting - own_ids),
                      key=lambda header: (header[I.PERIOD], header[I.INVOICE_ID]))
    return [audit_document(spark, settings, header[I.INVOICE_ID], plans_path, price_book) for header in ordered]


def _stored_header(spark, settings, invoice_id: str) -> dict:
    headers = [header for header in read_headers(spark, settings) if header[I.INVOICE_ID] == invoice_id]
    if not headers:
        raise AuditError(f"document {invoice_id!r} not found in {Table.GOLD_INVOICES.value}")
    return headers[0]


def _audit_invoice(spark, settings, header: dict, plans_path: Path | None, price_book: Path | None) -> DocumentAudit:
    catalog = load_plans(plans_path or settings.plans_path, settings.meters, price_book)
    _check_configuration(header, catalog, plans_path, price_book)
    usage_versions = SourceVersions(silver=header[I.SILVER_VERSION], gold=header[I.GOLD_VERSION])
    try:
        invoices_version = draft_written_version(spark, settings, header)
        lines_version = _version_as_of(spark, settings, Table.GOLD_INVOICE_LINES,
                                       _commit_time(spark, settings, Table.GOLD_INVOICES, invoices_version))
        as_of = compute.HistoryAsOf(usage=usage_versions, invoices_version=invoices_version, lines_version=lines_version)
        gathered = compute.gather_inputs(spark, settings, header[I.PERIOD], [header[I.TENANT_ID]], catalog, as_of)
    except (PySparkException, Py4JJavaError) as error:
        if is_version_unavailable(error):
            raise VersionUnavailableError(_unavailable_message(settings, header, error)) from None
        raise
    run = compute.rate_gathered(settings, gathered, catalog)

    sources = Sources(silver_version=usage_versions.silver, gold_version=usage_versions.gold,
                      invoices_version=invoices_version, invoice_lines_version=lines_version,
                      plans_sha256=catalog.sha256, price_book_sha256=header[I.PRICE_BOOK_SHA256])
    stored_lines = _stored_lines(spark, settings, header[I.INVOICE_ID])
    if not run.documents:
        differences = (Difference("document", "stored", "not produced: the tenant had no service in the period"),)
    else:
        rebuilt = run.documents[0]
        differences = tuple(compare_documents(header, stored_lines, rebuilt.header, rebuilt.lines))
    return _result(header, sources, differences)


def _audit_credit_note(spark, settings, note: dict) -> DocumentAudit:
    original_id = note[I.REFERENCES_INVOICE_ID]
    if not original_id:
        raise AuditError(f"credit note {note[I.INVOICE_ID]} names no invoice in {I.REFERENCES_INVOICE_ID}")
    original = _stored_header(spark, settings, original_id)
    expected_header, expected_lines = reversal_of(original, _stored_lines(spark, settings, original_id), note)
    differences = compare_documents(note, _stored_lines(spark, settings, note[I.INVOICE_ID]),
                                    expected_header, expected_lines)
    sources = Sources(silver_version=original[I.SILVER_VERSION], gold_version=original[I.GOLD_VERSION],
                      invoices_version=None, invoice_lines_version=None, plans_sha256=original[I.PLANS_SHA256],
                      price_book_sha256=original[I.PRICE_BOOK_SHA256], reverses_invoice_id=original_id)
    return _result(note, sources, tuple(differences))


def reversal_of(original: dict, original_lines: Sequence[dict], note: dict) -> tuple[dict, list[dict]]:
    """Return the header and lines a full credit note of ``original`` must have.

    Every amount and total is negated and every line becomes a reversal line;
    the credit balance gets back the credits the invoice used. The note's own
    id, number, sequence and lifecycle fields are taken from ``note``.
    """
    identity = {I.INVOICE_ID: note[I.INVOICE_ID], I.DOCUMENT_TYPE: DocumentType.CREDIT_NOTE.value}
    header = dict(original, **identity, **{name: -original[name] for name in NEGATED_TOTALS},
                  **{I.REFERENCES_INVOICE_ID: original[I.INVOICE_ID], I.REFERENCES_PERIOD: original[I.PERIOD],
                     I.CREDIT_BALANCE: original[I.CREDIT_BALANCE] + original[I.CREDITS_APPLIED]})
    lines = [dict(line, **identity, **{I.LINE_TYPE: LineType.REVERSAL.value, I.AMOUNT: -line[I.AMOUNT],
                                       I.DESCRIPTION: f"Reversal: {line[I.DESCRIPTION]}"})
             for line in sorted(original_lines, key=lambda item: item[I.LINE_NUMBER])]
    return header, lines


def compare_documents(stored_header: dict, stored_lines: Sequence[dict], rebuilt_header: dict,
                      rebuilt_lines: Sequence[dict]) -> list[Difference]:
    """List every header column and line column that differs; lifecycle columns are not compared.

    Decimals compare by value (``1.00`` equals ``1.000000``) and timestamps
    as instants, because stored values carry the column's scale and UTC.
    """
    differences = [Difference(f"header {name}", _text(stored_header[name]), _text(rebuilt_header[name]))
                   for name in INVOICES.fieldNames()
                   if name not in LIFECYCLE_FIELDS and stored_header[name] != rebuilt_header[name]]
    stored_by_number = {line[I.LINE_NUMBER]: line for line in stored_lines}
    rebuilt_by_number = {line[I.LINE_NUMBER]: line for line in rebuilt_lines}
    for number in sorted(set(stored_by_number) | set(rebuilt_by_number)):
        stored, rebuilt = stored_by_number.get(number), rebuilt_by_number.get(number)
        if stored is None or rebuilt is None:
            differences.append(Difference(f"line {number}", _line_summary(stored), _line_summary(rebuilt)))
            continue
        differences += [Difference(f"line {number} {name}", _text(stored[name]), _text(rebuilt[name]))
                        for name in INVOICE_LINES.fieldNames() if stored[name] != rebuilt[name]]
    return differences


def draft_written_version(spark: SparkSession, settings: Settings, header: dict) -> int:
    """Return the gold.invoices version at which the rated content of ``header`` was written.

    For a finalized or voided document that is the first version holding the
    draft it was finalized (or voided) from; for a draft, the first version
    holding its current content. Both are found by binary search over the
    table's versions, one read per step.

    NOTE: the search assumes that once a draft reached its final content it
    kept it until it was finalized. A draft rewritten to other content and
    back again is found at its last stretch of equal content, which is
    computed from the same inputs unless earlier documents changed meanwhile.
    """
    table = delta_table(spark, settings, Table.GOLD_INVOICES)
    versions = [int(row[0]) for row in table.history().select("version").collect()]
    oldest, latest = min(versions), max(versions)
    invoice_id = header[I.INVOICE_ID]
    read = _HeaderAtVersion(spark, settings, invoice_id)

    draft, last_draft_version = header, latest
    if header[I.STATUS] != InvoiceStatus.DRAFT.value:
        closed_at = _first_version(oldest, latest, lambda v: (read(v) or {}).get(I.STATUS, InvoiceStatus.DRAFT.value)
                                   != InvoiceStatus.DRAFT.value)
        draft = read(closed_at - 1) if closed_at > oldest else None
        if draft is None or draft[I.STATUS] != InvoiceStatus.DRAFT.value:
            raise AuditError(f"document {invoice_id}: no draft precedes version {closed_at} of "
                             f"{Table.GOLD_INVOICES.value} in the table history kept (versions {oldest} to "
                             f"{latest}), so the inputs it was rated from cannot be found")
        last_draft_version = closed_at - 1
    return _first_version(oldest, last_draft_version, lambda v: read(v) == draft)


class _HeaderAtVersion:
    """Reads one document's header at a gold.invoices version, caching each read."""

    def __init__(self, spark: SparkSession, settings: Settings, invoice_id: str):
        self.spark, self.settings, self.invoice_id = spark, settings, invoice_id
        self.cache: dict[int, dict | None] = {}

    def __call__(self, version: int) -> dict | None:
        if version not in self.cache:
            frame = read_table(self.spark, self.settings, Table.GOLD_INVOICES, version)
            rows = collect_with_utc_times(frame.where(F.col(I.INVOICE_ID) == self.invoice_id), HEADER_TIMES)
            self.cache[version] = rows[0] if rows else None
        return self.cache[version]


def _first_version(low: int, high: int, holds) -> int:
    # Smallest version in [low, high] for which ``holds`` is true, given that
    # it stays true up to ``high``; ``high`` when it holds nowhere earlier.
    while low < high:
        middle = (low + high) // 2
        if holds(middle):
            high = middle
        else:
            low = middle + 1
    return high


def _commit_time(spark, settings, table: Table, version: int) -> datetime:
    rows = (delta_table(spark, settings, table).history().where(F.col("version") == version)
            .select(F.unix_micros("timestamp").alias("micros")).collect())
    return EPOCH + timedelta(microseconds=rows[0]["micros"])


def _version_as_of(spark, settings, table: Table, moment: datetime) -> int | None:
    # Lines are merged before headers, so the latest lines commit at or before
    # the header commit holds the lines the rating read, plus this draft's own
    # lines, which rating leaves out of the history it uses.
    if current_version(spark, settings, table) is None:
        return None
    micros = (moment - EPOCH) // timedelta(microseconds=1)
    row = (delta_table(spark, settings, table).history()
           .where(F.unix_micros("timestamp") <= micros).agg(F.max("version").alias("version")).first())
    return None if row["version"] is None else int(row["version"])


def collect_with_utc_times(frame: DataFrame, timestamps: Sequence[str]) -> list[dict]:
    """Collect rows as dicts whose ``timestamps`` are aware UTC datetimes, whatever the driver's zone."""
    columns = [F.unix_micros(name).alias(name) if name in timestamps else F.col(name) for name in frame.columns]
    rows = []
    for row in frame.select(*columns).collect():
        values = row.asDict()
        for name in timestamps:
            if values.get(name) is not None:
                values[name] = EPOCH + timedelta(microseconds=values[name])
        rows.append(values)
    return rows


def _stored_lines(spark, settings, invoice_id: str) -> list[dict]:
    return read_lines(spark, settings, F.col(I.INVOICE_ID) == invoice_id)


def _check_configuration(header: dict, catalog: PlanCatalog, plans_path: Path | None, price_book: Path | None) -> None:
    problems = []
    if catalog.sha256 != header[I.PLANS_SHA256]:
        problems.append(f"plan file {catalog.source} has SHA-256 {catalog.sha256}, but the document was priced with "
                        f"{header[I.PLANS_SHA256]}; pass --plans with the plan file of that time")
    books = sorted({book for plan in catalog.plans.values() for book in plan.price_book_sha256.split(",") if book})
    recorded = [book for book in header[I.PRICE_BOOK_SHA256].split(",") if book]
    if not set(recorded) <= set(books):
        problems.append(f"price books {recorded} recorded on the document are not among the configured ones "
                        f"({books or 'none'}); pass --price-book with the price book of that time")
    if problems:
        raise AuditError(f"document {header[I.INVOICE_ID]} cannot be rebuilt with this configuration: "
                         + "; ".join(problems))


def is_version_unavailable(error: Exception) -> bool:
    """Return True when ``error`` says a table version's log entry or files are gone."""
    text = str(error)
    return any(marker in text for marker in UNAVAILABLE_MARKERS)


def _unavailable_message(settings: Settings, header: dict, error: Exception) -> str:
    manifest = export_manifest_path(settings, header[I.PERIOD])
    window = retention_settings(settings)
    first_line = str(error).strip().splitlines()[0][:300]
    return (f"document {header[I.INVOICE_ID]} (tenant {header[I.TENANT_ID]}, period {header[I.PERIOD]}) cannot be "
            f"rebuilt: a version it records (silver.usage_events v{header[I.SILVER_VERSION]}, gold.usage_hourly "
            f"v{header[I.GOLD_VERSION]}) is outside its table's retention window, because VACUUM removed its files "
            f"or its log entry expired (silver keeps {window.days_for(Table.SILVER_EVENTS.value)} days, gold "
            f"{window.days_for(Table.GOLD_HOURLY.value)} days). The export of period {header[I.PERIOD]} holds the "
            f"document as issued: see {manifest}. Delta reported: {first_line}")


def _result(header: dict, sources: Sources, differences: tuple[Difference, ...]) -> DocumentAudit:
    return DocumentAudit(invoice_id=header[I.INVOICE_ID], tenant_id=header[I.TENANT_ID], period=header[I.PERIOD],
                         document_type=header[I.DOCUMENT_TYPE], status=header[I.STATUS],
                         invoice_number=header[I.INVOICE_NUMBER], sources=sources, differences=differences)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def _line_summary(line: dict | None) -> str | None:
    if line is None:
        return None
    return f"{line[I.LINE_TYPE]} {line[I.CHARGE_ID] or ''} {_text(line[I.AMOUNT])} {line[I.CURRENCY]}".replace("  ", " ")
