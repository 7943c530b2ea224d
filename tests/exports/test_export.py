"""Finance exports: byte-identical reruns, a manifest that matches the files, S3 and FOCUS."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import socket
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import boto3
import pytest

from pipelines.billing.schemas import INVOICE_LINES, INVOICES
from pipelines.exports.export import export_period
from pipelines.tables import ensure_table, table_path
from pipelines.vocabulary import Table

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FOCUS_VENV = PROJECT_ROOT / ".cache" / "focus-validator-venv"
START, END = datetime(2026, 11, 1), datetime(2026, 12, 1)
FINALIZED = datetime(2026, 12, 3)

# Rules of focus-validator 1.0.0's "1.0" rule set that no FOCUS 1.0 file can
# pass. It still requires the pre-1.0 column names InvoiceIssuer, Provider,
# Publisher and ResourceID (FOCUS 1.0 renamed them InvoiceIssuerName,
# ProviderName, PublisherName and ResourceId), its SkuPriceId rule reads the
# pre-1.0 column ChargeType, and its currency-code check fails with
# FileNotFoundError because the package lacks its currency list.
VALIDATOR_DEFECTS = {"InvoiceIssuer_Required", "Provider_Required", "Publisher_Required", "ResourceID_Required",
                     "SkuPriceId_Nullable", "BillingCurrency_IsCurrencyCode"}


def header(tenant, invoice_id, total, number):
    return (tenant, invoice_id, "2026-11", "invoice", "finalized", "issuer", number, 1, "USD", "UTC", START, END,
            total, Decimal("0"), Decimal("0"), Decimal("0"), Decimal("0"), total, 1, 3, 4, "book", "plans",
            None, None, None, FINALIZED, None)


def line(tenant, invoice_id, quantity, amount):
    return (tenant, invoice_id, "2026-11", "invoice", 1, "charge", "basic", "api", "api_requests", "per_unit",
            '{"region":"eu"}', quantity, Decimal("0.010000000000"), amount, "USD", START, END, "API requests", "{}",
            None, None)


@pytest.fixture
def billed_lake(spark, settings):
    for table, schema, rows in (
        (Table.GOLD_INVOICES, INVOICES, [header("t1", "i-1", Decimal("1.500000"), "issuer-00000001"),
                                         header("t2", "i-2", Decimal("0.020000"), "issuer-00000002")]),
        (Table.GOLD_INVOICE_LINES, INVOICE_LINES, [line("t1", "i-1", Decimal("150"), Decimal("1.500000")),
                                                   line("t2", "i-2", Decimal("2"), Decimal("0.020000"))]),
    ):
        ensure_table(spark, settings, table, schema)
        spark.createDataFrame(rows, schema).write.format("delta").mode("append").save(table_path(settings, table))
    return settings


def test_export_twice_gives_identical_bytes(spark, billed_lake, tmp_path):
    first = export_period(spark, billed_lake, "2026-11", str(tmp_path / "a"))
    second = export_period(spark, billed_lake, "2026-11", str(tmp_path / "b"))

    assert first == second
    for entry in first["files"]:
        content = (tmp_path / "a" / "2026-11" / entry["path"]).read_bytes()
        assert content == (tmp_path / "b" / "2026-11" / entry["path"]).read_bytes(), entry["path"]
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
    assert (tmp_path / "a/2026-11/manifest.json").read_bytes() == (tmp_path / "b/2026-11/manifest.json").read_bytes()
    assert first["tenants"] == ["t1", "t2"]
    assert first["datasets"]["invoices"]["totals"] == {"total USD": "1.520000"}
    assert first["delta_versions"]["gold.invoices"] == 1
    with (tmp_path / "a/2026-11/tenants/t2/invoice_lines.csv").open(newline="") as handle:
        t2_lines = list(csv.DictReader(handle))
    assert [(row["tenant_id"], row["amount"], row["service_start"]) for row in t2_lines] == [
        ("t2", "0.020000", "2026-11-01T00:00:00.000000Z")]


def test_manifest_carries_ledger_heads(spark, billed_lake, tmp_path):
    from pipelines.audit.ledger import append_documents, verify_ledger

    before = export_period(spark, billed_lake, "2026-11", str(tmp_path / "before"))
    append_documents(spark, billed_lake, [{"invoice_id": "i-1"}, {"invoice_id": "i-2"}])
    after = export_period(spark, billed_lake, "2026-11", str(tmp_path / "after"))

    sequence, sha256 = verify_ledger(spark, billed_lake).heads["issuer"]
    assert before["ledger_heads"] == {}
    assert after["ledger_heads"] == {"issuer": {"sequence": 2, "sha256": sha256}}
    assert sequence == 2
    assert json.loads((tmp_path / "after/2026-11/manifest.json").read_text())["ledger_heads"] == after["ledger_heads"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3_server(monkeypatch):
    """moto's S3 server on loopback: a real HTTP server speaking the S3 REST API.

    Docker and a MinIO binary are not available on the test machines, and
    moto[server] is a test dependency, so the export talks to it through
    boto3 exactly as it would to AWS.
    """
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_export_to_s3_uploads_same_bytes_as_folder(spark, billed_lake, tmp_path, s3_server):
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket="finance")
    settings = billed_lake.__class__(**{**billed_lake.__dict__, "raw": {
        **billed_lake.raw, "exports": {"s3_endpoint_url": s3_server, "s3_sse": "AES256"}}})

    manifest = export_period(spark, settings, "2026-11", "s3://finance/meterhouse")

    for entry in manifest["files"]:
        body = client.get_object(Bucket="finance", Key=f"meterhouse/2026-11/{entry['path']}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"], entry["path"]
    stored = json.loads(client.get_object(Bucket="finance", Key="meterhouse/2026-11/manifest.json")["Body"].read())
    assert stored == manifest


def _focus_validator() -> Path:
    """Return focus-validator's executable, installing it into its own virtual environment once.

    focus-validator 1.0.0 pins old numpy and pandas, so it never goes into the
    project's environment. Its dependency pandera 0.17 imports
    ``multimethod.overload``, which multimethod 1.11 removed, hence the pin.
    """
    executable = FOCUS_VENV / "bin" / "focus-validator"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(FOCUS_VENV)], check=True)
        install = subprocess.run([str(FOCUS_VENV / "bin" / "pip"), "install", "focus-validator==1.0.0",
                                  "multimethod<1.11"], capture_output=True, text=True)
        if install.returncode != 0:
            pytest.skip(f"focus-validator could not be installed: {install.stderr[-500:]}")
    return executable


def test_focus_export_passes_focus_validator(spark, billed_lake, tmp_path):
    validator = _focus_validator()
    export_period(spark, billed_lake, "2026-11", str(tmp_path))

    report = subprocess.run([str(validator), "--data-file", str(tmp_path / "2026-11/all/focus.csv"),
                             "--validate-version", "1.0", "--column-namespace", "x"],
                            capture_output=True, text=True, timeout=600)

    failed_rules = set(re.findall(r"^\s*(\S+) failed:", report.stdout, flags=re.MULTILINE))
    assert "Traceback" not in report.stderr, report.stderr[-2000:]
    assert failed_rules <= VALIDATOR_DEFECTS, report.stdout[-4000:]
