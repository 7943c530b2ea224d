"""The invoice ledger: a hash chain over every issued document, per issuer.

Each finalized invoice, issued credit note and voided document is appended to
``audit.invoice_ledger`` once, with

- ``content``: the canonical JSON of its header and lines as stored in
  gold.invoices and gold.invoice_lines (sorted keys, decimals as strings with
  the column's scale, timestamps as UTC ISO 8601 with microseconds, lines in
  line-number order);
- ``content_sha256``: SHA-256 of that text;
- ``previous_sha256``: the ``record_sha256`` of the issuer's previous record
  (64 zeros for the first);
- ``record_sha256``: SHA-256 over the record's fields and ``previous_sha256``.

Late usage billed as an adjustment line is recorded inside the invoice that
carries it, and ``references_invoice_ids`` lists the invoices it adjusts.

Verification walks each issuer's records in sequence order and names the first
record whose content or fields were modified, whose predecessor was removed, or
that sits out of order. It also compares the latest record of each document
with the current gold tables and lists operations in the ledger's own Delta
history that an append-only ledger never makes.

NOTE: a chain proves the order and content of records relative to each other.
Someone who rewrites the whole table and recomputes every hash makes a
consistent chain; the head hash that ``meterhouse audit ledger`` prints must
therefore be kept outside the lake to detect that. ``meterhouse export``
copies each head into the period's manifest (``ledger_heads``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType, TimestampType

from pipelines.audit.errors import AuditError
from pipelines.audit.retention import AuditTable, retention_properties, retention_settings
from pipelines.billing.documents import read_headers, read_lines
from pipelines.billing.schemas import INVOICE_LINES, INVOICES
from pipelines.billing.vocabulary import DocumentType
from pipelines.billing.vocabulary import InvoiceColumn as I
from pipelines.config import Settings
from pipelines.tables import delta_table, ensure_table, read_table, table_exists
from pipelines.vocabulary import InvoiceStatus

log = logging.getLogger(__name__)

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GENESIS_SHA256 = "0" * 64


class LedgerColumn:
    """Column names of audit.invoice_ledger."""

    ISSUER = "issuer"
    SEQUENCE = "sequence"
    RECORD_TYPE = "record_type"
    INVOICE_ID = "invoice_id"
    TENANT_ID = "tenant_id"
    PERIOD = "period"
    DOCUMENT_TYPE = "document_type"
    INVOICE_NUMBER = "invoice_number"
    STATUS = "status"
    REFERENCES_INVOICE_IDS = "references_invoice_ids"
    RECORDED_AT = "recorded_at"
    CONTENT = "content"
    CONTENT_SHA256 = "content_sha256"
    PREVIOUS_SHA256 = "previous_sha256"
    RECORD_SHA256 = "record_sha256"


L = LedgerColumn

LEDGER = StructType([
    StructField(L.ISSUER, StringType(), False),
    StructField(L.SEQUENCE, LongType(), False),
    StructField(L.RECORD_TYPE, StringType(), False),
    StructField(L.INVOICE_ID, StringType(), False),
    StructField(L.TENANT_ID, StringType(), False),
    StructField(L.PERIOD, StringType(), False),
    StructField(L.DOCUMENT_TYPE, StringType(), False),
    StructField(L.INVOICE_NUMBER, StringType(), True),
    StructField(L.STATUS, StringType(), False),
    StructField(L.REFERENCES_INVOICE_IDS, ArrayType(StringType(), False), False),
    StructField(L.RECORDED_AT, TimestampType(), False),
    StructField(L.CONTENT, StringType(), False),
    StructField(L.CONTENT_SHA256, StringType(), False),
    StructField(L.PREVIOUS_SHA256, StringType(), False),
    StructField(L.RECORD_SHA256, StringType(), False),
])

# Every field except the hash itself and the sequence number: the chain of
# previous_sha256 fixes the order, so renumbering records breaks the chain
# instead of hiding inside a recomputed hash.
HASHED_FIELDS = tuple(name for name in LEDGER.fieldNames() if name not in (L.SEQUENCE, L.RECORD_SHA256))


class RecordType:
    """What happened to the document that a ledger record captures."""

    INVOICE_FINALIZED = "invoice_finalized"
    CREDIT_NOTE_ISSUED = "credit_note_issued"
    DOCUMENT_VOIDED = "document_voided"


class FindingKind:
    """Kinds of problems that ledger verification reports."""

    MODIFIED = "modified"
    REMOVED = "removed"
    REORDERED = "reordered"
    GOLD_CHANGED = "gold_changed"
    NOT_IN_LEDGER = "not_in_ledger"
    HISTORY = "history"


@dataclass(frozen=True)
class LedgerFinding:
    """One problem found by ``verify_ledger``; ``sequence`` is the first record affected."""

    kind: str
    issuer: str | None
    sequence: int | None
    invoice_id: str | None
    message: str


@dataclass(frozen=True)
class LedgerReport:
    """Result of ``verify_ledger``: record count, each issuer's head and every finding."""

    record_count: int
    heads: dict[str, tuple[int, str]]
    findings: tuple[LedgerFinding, ...]

    @property
    def is_intact(self) -> bool:
        return not self.findings


def ensure_ledger(spark: SparkSession, settings: Settings) -> None:
    """Create the ledger table, append-only and with the audit window's retention, if it does not exist."""
    days = retention_settings(settings).window_days
    properties = {"delta.appendOnly": "true", **retention_properties(days)}
    ensure_table(spark, settings, AuditTable.INVOICE_LEDGER, LEDGER, properties=properties)


def canonical_value(value: object) -> object:
    """Return ``value`` as the canonical ledger form: decimals as strings, timestamps as UTC ISO 8601."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise AuditError(f"timestamp {value!r} has no time zone; canonical content needs aware UTC times")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def canonical_content(header: dict, lines: Iterable[dict]) -> str:
    """Return the canonical JSON text of a document: every header and line column, lines by number."""
    document = {
        "header": {name: canonical_value(header[name]) for name in INVOICES.fieldNames()},
        "lines": [{name: canonical_value(line[name]) for name in INVOICE_LINES.fieldNames()}
                  for line in sorted(lines, key=lambda item: item[I.LINE_NUMBER])],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_sha256(record: dict) -> str:
    """Return the chain hash of a ledger record from its hashed fields (sequence excluded)."""
    fields = {name: canonical_value(record[name]) for name in HASHED_FIELDS}
    fields[L.REFERENCES_INVOICE_IDS] = list(fields[L.REFERENCES_INVOICE_IDS])
    return sha256_hex(json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def record_type_of(header: dict) -> str:
    """Return the ledger record type for a stored header; drafts are not recorded."""
    status = header[I.STATUS]
    if status == InvoiceStatus.VOIDED.value:
        return RecordType.DOCUMENT_VOIDED
    if status != InvoiceStatus.FINALIZED.value:
        raise AuditError(f"document {header[I.INVOICE_ID]} (tenant {header[I.TENANT_ID]}) is a {status}; "
                         "only finalized, credited and voided documents go into the ledger")
    if header[I.DOCUMENT_TYPE] == DocumentType.CREDIT_NOTE.value:
        return RecordType.CREDIT_NOTE_ISSUED
    return RecordType.INVOICE_FINALIZED


def append_documents(spark: SparkSession, settings: Settings, headers: Sequence[dict], now: datetime | None = None) -> list[dict]:
    """Append the documents of ``headers`` to the ledger as stored in gold now; return the new records.

    Call it right after a document is finalized, credited or voided. Only the
    ``invoice_id`` of each header is used: content is read back from
    gold.invoices and gold.invoice_lines, so the ledger holds what was stored.
    Idempotent: a document already recorded with the same record type is
    skipped, so a rerun after a crash between the gold write and this append
    fills the gap without doubling it. Two appenders running at once conflict
    in Delta's optimistic concurrency check and one of them fails instead of
    reusing a sequence number.
    """
    if not headers:
        return []
    ensure_ledger(spark, settings)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    ids = sorted({header[I.INVOICE_ID] for header in headers})
    stored = {header[I.INVOICE_ID]: header for header in read_headers(spark, settings) if header[I.INVOICE_ID] in ids}
    missing = [invoice_id for invoice_id in ids if invoice_id not in stored]
    if missing:
        raise AuditError(f"documents {missing} are not in gold.invoices; write them before appending to the ledger")
    lines = _lines_by_document(spark, settings, ids)

    ledger = read_table(spark, settings, AuditTable.INVOICE_LEDGER)
    recorded = {(row[L.INVOICE_ID], row[L.RECORD_TYPE]) for row in ledger.select(L.INVOICE_ID, L.RECORD_TYPE).collect()}
    heads = _heads(ledger)
    records = []
    for header in sorted(stored.values(), key=_append_order):
        record_type = record_type_of(header)
        if (header[I.INVOICE_ID], record_type) in recorded:
            log.info("ledger: document %s (%s) is already recorded; not appended again", header[I.INVOICE_ID], record_type)
            continue
        issuer = header[I.ISSUER]
        sequence, previous = heads.get(issuer, (0, GENESIS_SHA256))
        record = _record(header, lines.get(header[I.INVOICE_ID], []), record_type, sequence + 1, previous, now)
        heads[issuer] = (sequence + 1, record[L.RECORD_SHA256])
        records.append(record)
    if records:
        _insert(spark, settings, records)
        log.info("ledger: appended %d records (%s)", len(records),
                 ", ".join(f"{record[L.ISSUER]} #{record[L.SEQUENCE]}" for record in records))
    return records


def _append_order(header: dict) -> tuple:
    # Numbered documents in number order, voided drafts after them by id, so
    # one call always appends the same documents in the same order.
    return (header[I.ISSUER], header[I.SEQUENCE] is None, header[I.DOCUMENT_TYPE], header[I.SEQUENCE] or 0,
            header[I.INVOICE_ID])


def _record(header: dict, lines: list[dict], record_type: str, sequence: int, previous: str, now: datetime) -> dict:
    content = canonical_content(header, lines)
    references = sorted({line[I.REFERENCES_INVOICE_ID] for line in lines if line[I.REFERENCES_INVOICE_ID]}
                        | ({header[I.REFERENCES_INVOICE_ID]} if header[I.REFERENCES_INVOICE_ID] else set()))
    record = {
        L.ISSUER: header[I.ISSUER], L.SEQUENCE: sequence, L.RECORD_TYPE: record_type,
        L.INVOICE_ID: header[I.INVOICE_ID], L.TENANT_ID: header[I.TENANT_ID], L.PERIOD: header[I.PERIOD],
        L.DOCUMENT_TYPE: header[I.DOCUMENT_TYPE], L.INVOICE_NUMBER: header[I.INVOICE_NUMBER],
        L.STATUS: header[I.STATUS], L.REFERENCES_INVOICE_IDS: references,
        L.RECORDED_AT: now,
        L.CONTENT: content, L.CONTENT_SHA256: sha256_hex(content), L.PREVIOUS_SHA256: previous,
    }
    record[L.RECORD_SHA256] = record_sha256(record)
    return record


def _insert(spark: SparkSession, settings: Settings, records: list[dict]) -> None:
    source = spark.createDataFrame([tuple(record[name] for name in LEDGER.fieldNames()) for record in records], LEDGER)
    # Insert-only MERGE on (issuer, sequence): it reads the ledger, so a
    # concurrent append makes this commit fail instead of reusing a number.
    (delta_table(spark, settings, AuditTable.INVOICE_LEDGER).alias("t")
     .merge(source.alias("s"), f"t.{L.ISSUER} = s.{L.ISSUER} AND t.{L.SEQUENCE} = s.{L.SEQUENCE}")
     .whenNotMatchedInsertAll()
     .execute())


def _heads(ledger: DataFrame) -> dict[str, tuple[int, str]]:
    latest = ledger.groupBy(L.ISSUER).agg(F.max_by(F.struct(L.SEQUENCE, L.RECORD_SHA256), L.SEQUENCE).alias("head"))
    return {row[L.ISSUER]: (int(row["head"][L.SEQUENCE]), row["head"][L.RECORD_SHA256]) for row in latest.collect()}


def _lines_by_document(spark: SparkSession, settings: Settings, invoice_ids: Sequence[str]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for line in read_lines(spark, settings, F.col(I.INVOICE_ID).isin(list(invoice_ids))):
        grouped.setdefault(line[I.INVOICE_ID], []).append(line)
    return grouped


def ledger_heads(spark: SparkSession, settings: Settings) -> dict[str, dict]:
    """Return each issuer's chain head as ``{"sequence": n, "sha256": hash}``; empty without a ledger."""
    if not table_exists(spark, settings, AuditTable.INVOICE_LEDGER):
        return {}
    heads = _heads(read_table(spark, settings, AuditTable.INVOICE_LEDGER))
    return {issuer: {"sequence": sequence, "sha256": sha256} for issuer, (sequence, sha256) in sorted(heads.items())}


def read_ledger(spark: SparkSession, settings: Settings) -> list[dict]:
    """Return every ledger record as a dict with an aware UTC ``recorded_at``, by issuer and sequence."""
    if not table_exists(spark, settings, AuditTable.INVOICE_LEDGER):
        return []
    frame = read_table(spark, settings, AuditTable.INVOICE_LEDGER)
    rows = frame.withColumn(L.RECORDED_AT, F.unix_micros(L.RECORDED_AT)).collect()
    records = []
    for row in rows:
        record = row.asDict()
        record[L.RECORDED_AT] = EPOCH + timedelta(microseconds=record[L.RECORDED_AT])
        records.append(record)
    return sorted(records, key=lambda record: (record[L.ISSUER], record[L.SEQUENCE]))


def verify_ledger(spark: SparkSession, settings: Settings) -> LedgerReport:
    """Verify the ledger's chains, compare it with gold, and check its Delta history.

    Reads the ledger, gold.invoices and gold.invoice_lines at their latest
    versions and writes nothing.
    """
    records = read_ledger(spark, settings)
    findings: list[LedgerFinding] = []
    heads: dict[str, tuple[int, str]] = {}
    for issuer in sorted({record[L.ISSUER] for record in records}):
        chain = [record for record in records if record[L.ISSUER] == issuer]
        finding = first_chain_break(chain)
        if finding is not None:
            findings.append(finding)
        heads[issuer] = (chain[-1][L.SEQUENCE], chain[-1][L.RECORD_SHA256])
    findings += compare_with_gold(spark, settings, records)
    findings += unexpected_operations(spark, settings)
    return LedgerReport(record_count=len(records), heads=heads, findings=tuple(findings))


def first_chain_break(chain: Sequence[dict]) -> LedgerFinding | None:
    """Return the first record of one issuer's chain (sorted by sequence) that breaks it, or None."""
    by_hash = {record[L.RECORD_SHA256]: record for record in chain}
    previous_hash, expected_sequence = GENESIS_SHA256, 1
    for record in chain:
        issuer, sequence, invoice_id = record[L.ISSUER], record[L.SEQUENCE], record[L.INVOICE_ID]
        where = f"ledger record {issuer} #{sequence} (document {invoice_id})"

        if sha256_hex(record[L.CONTENT]) != record[L.CONTENT_SHA256]:
            return LedgerFinding(FindingKind.MODIFIED, issuer, sequence, invoice_id,
                                 f"{where} was modified: its content does not match its content_sha256")
        if record_sha256(record) != record[L.RECORD_SHA256]:
            return LedgerFinding(FindingKind.MODIFIED, issuer, sequence, invoice_id,
                                 f"{where} was modified: its fields do not match its record_sha256")
        if sequence < expected_sequence:
            return LedgerFinding(FindingKind.REORDERED, issuer, sequence, invoice_id,
                                 f"{where} repeats sequence number {sequence}")
        if sequence > expected_sequence:
            return LedgerFinding(FindingKind.REMOVED, issuer, expected_sequence, None,
                                 f"ledger records {issuer} #{expected_sequence} to #{sequence - 1} were removed: "
                                 f"the chain goes from #{expected_sequence - 1} to #{sequence}")
        if record[L.PREVIOUS_SHA256] != previous_hash:
            predecessor = by_hash.get(record[L.PREVIOUS_SHA256])
            if predecessor is not None:
                return LedgerFinding(FindingKind.REORDERED, issuer, sequence, invoice_id,
                                     f"{where} is out of order: the chain puts it after #{predecessor[L.SEQUENCE]} "
                                     f"(document {predecessor[L.INVOICE_ID]})")
            return LedgerFinding(FindingKind.REMOVED, issuer, sequence, invoice_id,
                                 f"{where} follows a record that is no longer in the ledger: its previous_sha256 "
                                 f"{record[L.PREVIOUS_SHA256]} matches no record, so the record before it was "
                                 "removed or replaced")
        previous_hash, expected_sequence = record[L.RECORD_SHA256], sequence + 1
    return None


def compare_with_gold(spark: SparkSession, settings: Settings, records: Sequence[dict]) -> list[LedgerFinding]:
    """List documents whose current gold content differs from their latest ledger record, or that are unrecorded."""
    latest: dict[str, dict] = {}
    for record in records:
        latest[record[L.INVOICE_ID]] = record
    headers = {header[I.INVOICE_ID]: header for header in read_headers(spark, settings)
               if header[I.STATUS] != InvoiceStatus.DRAFT.value or header[I.INVOICE_ID] in latest}
    lines = _lines_by_document(spark, settings, sorted(headers)) if headers else {}

    findings = []
    for invoice_id, header in sorted(headers.items()):
        record = latest.get(invoice_id)
        if record is None:
            findings.append(LedgerFinding(FindingKind.NOT_IN_LEDGER, header[I.ISSUER], None, invoice_id,
                                          f"document {invoice_id} (tenant {header[I.TENANT_ID]}, period "
                                          f"{header[I.PERIOD]}) is {header[I.STATUS]} in gold.invoices but has no "
                                          "ledger record"))
            continue
        content = canonical_content(header, lines.get(invoice_id, []))
        if sha256_hex(content) != record[L.CONTENT_SHA256]:
            findings.append(LedgerFinding(FindingKind.GOLD_CHANGED, record[L.ISSUER], record[L.SEQUENCE], invoice_id,
                                          f"document {invoice_id} in gold differs from ledger record "
                                          f"{record[L.ISSUER]} #{record[L.SEQUENCE]}: "
                                          f"{', '.join(changed_fields(record[L.CONTENT], content))} changed"))
    for invoice_id in sorted(set(latest) - set(headers)):
        record = latest[invoice_id]
        findings.append(LedgerFinding(FindingKind.GOLD_CHANGED, record[L.ISSUER], record[L.SEQUENCE], invoice_id,
                                      f"document {invoice_id} of ledger record {record[L.ISSUER]} "
                                      f"#{record[L.SEQUENCE]} is missing from gold.invoices"))
    return findings


def changed_fields(recorded: str, current: str) -> list[str]:
    """Return the header fields and line fields that differ between two canonical contents."""
    before, after = json.loads(recorded), json.loads(current)
    changed = [f"header.{name}" for name in sorted(before["header"]) if before["header"][name] != after["header"].get(name)]
    if len(before["lines"]) != len(after["lines"]):
        changed.append(f"line count ({len(before['lines'])} recorded, {len(after['lines'])} now)")
    for old, new in zip(before["lines"], after["lines"]):
        changed += [f"line {old[I.LINE_NUMBER]}.{name}" for name in sorted(old) if old[name] != new.get(name)]
    return changed


def unexpected_operations(spark: SparkSession, settings: Settings) -> list[LedgerFinding]:
    """List commits in the ledger's Delta history that change or remove records.

    An append-only ledger only sees CREATE TABLE, appends, insert-only MERGE,
    OPTIMIZE and VACUUM. Commits older than ``delta.logRetentionDuration`` are
    no longer in the log and cannot be checked here.
    """
    from pipelines.audit.history import table_history

    if not table_exists(spark, settings, AuditTable.INVOICE_LEDGER):
        return []
    findings = []
    for commit in reversed(table_history(spark, settings, AuditTable.INVOICE_LEDGER.value)):
        reason = _tampering_reason(commit)
        if reason:
            findings.append(LedgerFinding(FindingKind.HISTORY, None, None, None,
                                          f"ledger table version {commit.version} ({commit.timestamp:%Y-%m-%d %H:%M:%S}) "
                                          f"is a {commit.operation}: {reason}"))
    return findings


def _tampering_reason(commit) -> str | None:
    operation = commit.operation
    if operation in ("UPDATE", "DELETE", "TRUNCATE", "RESTORE", "CREATE OR REPLACE TABLE", "REPLACE TABLE",
                     "REPLACE TABLE AS SELECT", "CREATE OR REPLACE TABLE AS SELECT"):
        return "records were changed or removed"
    if operation == "WRITE" and commit.parameters.get("mode") == "Overwrite":
        return "the table was rewritten"
    if operation == "MERGE" and any(int(commit.row_metrics.get(name, "0")) > 0
                                    for name in ("numTargetRowsUpdated", "numTargetRowsDeleted")):
        return "a MERGE updated or deleted records"
    if operation == "SET TBLPROPERTIES" and "false" in commit.parameters.get("properties", "").lower() \
            and "appendonly" in commit.parameters.get("properties", "").lower():
        return "delta.appendOnly was turned off"
    if operation == "UNSET TBLPROPERTIES" and "appendonly" in commit.parameters.get("properties", "").lower():
        return "delta.appendOnly was removed"
    return None
