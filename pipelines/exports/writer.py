"""Write an export folder: CSV and Parquet per dataset, for all tenants and per tenant, and a manifest.

Layout under the destination, for period P::

    P/all/<dataset>.csv, P/all/<dataset>.parquet
    P/tenants/<tenant_id>/<dataset>.csv, .parquet
    P/manifest.json

Determinism: rows are sorted, columns keep the schema order, CSV values have
one text form (decimals in plain notation with their scale, timestamps as
``YYYY-MM-DDTHH:MM:SS.ffffffZ``), Parquet is written by pyarrow from pandas
with fixed options, and no file contains the time of the export. The same table
versions therefore give byte-identical files with the same pyarrow version.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.billing.vocabulary import InvoiceColumn as I
from pipelines.exports.datasets import Dataset
from pipelines.vocabulary import Column as C

MANIFEST = "manifest.json"
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "use_dictionary": True,
                   "write_statistics": True, "version": "2.6", "data_page_size": 1 << 20}


def csv_bytes(dataset: Dataset) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    names = dataset.schema.names
    writer.writerow(names)
    for row in dataset.rows:
        writer.writerow([_csv_value(row[name]) for name in names])
    return buffer.getvalue().encode("utf-8")


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parquet_bytes(dataset: Dataset) -> bytes:
    frame = pd.DataFrame([[row[name] for name in dataset.schema.names] for row in dataset.rows],
                         columns=dataset.schema.names, dtype=object)
    table = pa.Table.from_pandas(frame, schema=dataset.schema, preserve_index=False)
    # The pandas metadata describes how to rebuild the frame and carries the
    # pandas version. Dropping it makes the bytes depend on pyarrow only.
    table = table.replace_schema_metadata(None)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    return sink.getvalue().to_pybytes()


def write_export(folder: Path, period: str, datasets: list[Dataset], versions: dict[str, int | None],
                 ledger_heads: dict[str, dict] | None = None) -> dict:
    """Write every file and the manifest under ``folder/period``; return the manifest.

    ``ledger_heads`` (issuer → sequence and hash of the invoice ledger's last
    record) is copied into the manifest as ``ledger_heads``.

    Files of an earlier export of the same period are overwritten, never
    appended to.
    """
    root = folder / period
    files = []
    tenants = sorted(set().union(*(dataset.tenant_ids for dataset in datasets)))
    scopes = [("all", None)] + [(f"tenants/{tenant}", tenant) for tenant in tenants]
    for scope, tenant in scopes:
        for dataset in datasets:
            part = dataset if tenant is None else dataset.for_tenant(tenant)
            for suffix, content in (("csv", csv_bytes(part)), ("parquet", parquet_bytes(part))):
                relative = f"{scope}/{dataset.name}.{suffix}"
                path = root / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
                files.append({"path": relative, "rows": len(part.rows), "bytes": len(content),
                              "sha256": hashlib.sha256(content).hexdigest()})

    manifest = {
        "period": period,
        "delta_versions": dict(sorted(versions.items())),
        "tenants": tenants,
        "datasets": {dataset.name: {"rows": len(dataset.rows), "totals": dataset_totals(dataset)}
                     for dataset in datasets},
        "files": sorted(files, key=lambda item: item["path"]),
        "ledger_heads": ledger_heads or {},
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def dataset_totals(dataset: Dataset) -> dict:
    """Control totals finance checks an export against: amounts per currency, quantities per meter."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for row in dataset.rows:
        if dataset.name == "invoices":
            sums[f"total {row[I.CURRENCY]}"] += row[I.TOTAL]
        elif dataset.name == "invoice_lines":
            sums[f"amount {row[I.CURRENCY]}"] += row[I.AMOUNT]
        elif dataset.name == "usage_daily":
            sums[f"quantity {row[C.METER]}"] += row[C.QUANTITY]
        elif dataset.name == "focus":
            sums[f"BilledCost {row['BillingCurrency']}"] += row["BilledCost"]
    return {key: format(value, "f") for key, value in sorted(sums.items())}
