"""The export job: read a period's tables at pinned versions and write them to a folder or S3."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from pyspark.sql import SparkSession

from pipelines.audit.ledger import ledger_heads
from pipelines.config import Settings
from pipelines.exports.datasets import pin_versions, read_datasets
from pipelines.exports.focus import focus_dataset
from pipelines.exports.s3 import is_s3_destination, s3_target, upload_folder
from pipelines.exports.writer import write_export
from pipelines.reconciliation.conservation import month_bounds

log = logging.getLogger(__name__)


def export_period(spark: SparkSession, settings: Settings, period: str, destination: str) -> dict:
    """Export ``period`` to a local folder or ``s3://bucket/prefix``; return the manifest.

    Idempotent: the same table versions write byte-identical files to the
    same paths.
    """
    month_bounds(period)
    exports = dict(settings.raw.get("exports") or {})
    target = s3_target(destination, exports) if is_s3_destination(destination) else None

    versions = pin_versions(spark, settings)
    datasets = read_datasets(spark, settings, period, versions)
    by_name = {dataset.name: dataset for dataset in datasets}
    datasets.append(focus_dataset(by_name["invoices"], by_name["invoice_lines"], settings))

    # The ledger heads travel with the export, so a copy of each chain's head
    # lives outside the lake, where rewriting the ledger cannot reach it.
    heads = ledger_heads(spark, settings)

    if target is None:
        manifest = write_export(Path(destination), period, datasets, versions, heads)
        log.info("period %s exported to %s (%d files)", period, destination, len(manifest["files"]))
        return manifest
    with tempfile.TemporaryDirectory(prefix="meterhouse-export-") as staging:
        manifest = write_export(Path(staging), period, datasets, versions, heads)
        keys = upload_folder(Path(staging), target)
    log.info("period %s exported to s3://%s/%s (%d objects)", period, target.bucket, target.prefix, len(keys))
    return manifest
