"""Benchmark the invoice job: fill gold for N tenants for one month, then invoice them.

Run as ``python -m pipelines.billing.benchmark --tenants 1000``. The lake is a
fresh temporary folder (or ``--lake``), every tenant is on ``saas-standard``,
and the figures go to ``results/billing-benchmark.json`` and ``.md``. Filling
the tables is timed apart from invoicing; only the invoice steps count
towards tenants per second.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.billing.invoices import compute_invoices, write_invoices
from pipelines.billing.subscriptions import parse_period_label, shift_label
from pipelines.config import PROJECT_ROOT, Settings, Tenant, load_settings
from pipelines.schemas import GOLD_USAGE, QUANTITY_TYPE, SILVER_EVENTS
from pipelines.tables import ensure_table, table_path
from pipelines.vocabulary import Table
from pipelines.vocabulary import Column as C

log = logging.getLogger(__name__)

PLAN = "saas-standard"
# (meter, aggregation, dimension values, quantity expression) per tenant and hour.
HOURLY_METERS = (
    ("api_requests", "COUNT", ('{"region":"eu"}', '{"region":"us"}'), "pmod(xxhash64(tenant_id, window_start, dimensions), 500)"),
    ("compute_seconds", "SUM", ('{"instance_type":"m5.large"}',), "pmod(xxhash64(tenant_id, window_start), 4000) / 3"),
    ("egress_bytes", "SUM", ('{"region":"eu"}',), "pmod(xxhash64(tenant_id, window_start), 50000000)"),
    ("storage_gb", "LATEST", ("{}",), "pmod(xxhash64(tenant_id, hour(window_start)), 200) + 0.5"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.billing.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000, help="number of tenants to invoice")
    parser.add_argument("--period", default="2026-11", help="billing period YYYY-MM to fill and invoice")
    parser.add_argument("--conf", help="environment file (default conf/local.yaml)")
    parser.add_argument("--lake", help="lake folder (default: a new temporary folder)")
    parser.add_argument("--results", type=Path, default=PROJECT_ROOT / "results", help="folder for the result files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    lake = args.lake or tempfile.mkdtemp(prefix="meterhouse-billing-bench-")
    settings = load_settings(args.conf, {"lake.root": lake})
    tenants = {f"bench-{index:05d}": Tenant(f"bench-{index:05d}", f"Benchmark {index}",
                                            {"plan": PLAN, "subscription_start": "2026-01-01", "billing_timezone": "UTC"})
               for index in range(args.tenants)}
    settings = replace(settings, tenants=tenants)

    from pipelines.session import build_local_session

    spark = build_local_session(settings, {"spark.databricks.delta.snapshotPartitions": str(settings.spark.shuffle_partitions)})
    figures = run_benchmark(spark, settings, args.period, args.tenants)
    figures["command"] = "python -m pipelines.billing.benchmark " + " ".join(argv if argv is not None else sys.argv[1:])
    write_results(args.results, figures)
    print(json.dumps(figures, indent=2))
    spark.stop()
    return 0


def run_benchmark(spark: SparkSession, settings: Settings, period: str, tenant_count: int) -> dict:
    started = time.perf_counter()
    gold_rows, silver_rows = fill_usage(spark, settings, period, sorted(settings.tenants))
    fill_seconds = time.perf_counter() - started

    started = time.perf_counter()
    run = compute_invoices(spark, settings, period)
    compute_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = write_invoices(spark, settings, run)
    write_seconds = time.perf_counter() - started

    invoice_seconds = compute_seconds + write_seconds
    return {
        "tenants": tenant_count,
        "period": period,
        "plan": PLAN,
        "gold_hourly_rows": gold_rows,
        "silver_events_rows": silver_rows,
        "fill_seconds": round(fill_seconds, 2),
        "compute_seconds": round(compute_seconds, 2),
        "write_seconds": round(write_seconds, 2),
        "invoice_seconds": round(invoice_seconds, 2),
        "tenants_per_second": round(len(result.written) / invoice_seconds, 1),
        "invoices_written": len(result.written),
        "invoice_lines": sum(len(document.lines) for document in run.documents),
        "spark_master": settings.spark.master,
        "shuffle_partitions": settings.spark.shuffle_partitions,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "spark": spark.version,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def fill_usage(spark: SparkSession, settings: Settings, period: str, tenant_ids: list[str]) -> tuple[int, int]:
    """Write one month of hourly gold rows and a few silver events per tenant; return the row counts."""
    year, month = parse_period_label(period)
    next_year, next_month = parse_period_label(shift_label(period, 1))
    start = datetime(year, month, 1, tzinfo=timezone.utc)
    hours = int((datetime(next_year, next_month, 1, tzinfo=timezone.utc) - start).total_seconds() // 3600)
    tenants = spark.createDataFrame([(tenant,) for tenant in tenant_ids], f"{C.TENANT_ID} string")
    windows = spark.range(hours).select(F.timestamp_seconds(F.lit(int(start.timestamp())) + F.col("id") * 3600).alias(C.WINDOW_START))
    grid = tenants.crossJoin(windows)

    frames = [_meter_rows(grid, meter, aggregation, dimensions, quantity)
              for meter, aggregation, dimension_values, quantity in HOURLY_METERS for dimensions in dimension_values]
    gold = frames[0]
    for frame in frames[1:]:
        gold = gold.unionByName(frame)
    ensure_table(spark, settings, Table.GOLD_HOURLY, GOLD_USAGE)
    gold.select(*GOLD_USAGE.fieldNames()).write.format("delta").mode("append").save(table_path(settings, Table.GOLD_HOURLY))

    events = (tenants.crossJoin(spark.range(20).withColumnRenamed("id", "n"))
              .select(C.TENANT_ID,
                      F.concat_ws("-", C.TENANT_ID, F.col("n").cast("string")).alias(C.EVENT_ID),
                      F.lit("compute.usage").alias(C.EVENT_TYPE), F.lit("benchmark").alias(C.SOURCE),
                      F.timestamp_seconds(F.lit(int(start.timestamp())) + F.col("n") * 86400).alias(C.EVENT_TIME),
                      F.format_string('{"user_id":"user-%d"}', F.col("n") % 13).alias(C.DATA),
                      F.lit("benchmark").alias(C.PAYLOAD_HASH), F.lit("benchmark").alias(C.TOPIC),
                      F.lit(0).alias(C.PARTITION), F.col("n").alias(C.OFFSET),
                      F.timestamp_seconds(F.lit(int(start.timestamp()))).alias(C.KAFKA_TIMESTAMP),
                      F.timestamp_seconds(F.lit(int(start.timestamp()))).alias(C.PROCESSED_AT)))
    ensure_table(spark, settings, Table.SILVER_EVENTS, SILVER_EVENTS)
    events.write.format("delta").mode("append").save(table_path(settings, Table.SILVER_EVENTS))
    return len(frames) * len(tenant_ids) * hours, 20 * len(tenant_ids)


def _meter_rows(grid: DataFrame, meter: str, aggregation: str, dimensions: str, quantity: str) -> DataFrame:
    return grid.select(
        C.TENANT_ID, F.lit(meter).alias(C.METER), F.lit(dimensions).alias(C.DIMENSIONS), C.WINDOW_START,
        (F.col(C.WINDOW_START) + F.expr("INTERVAL 1 HOUR")).alias(C.WINDOW_END), F.lit(aggregation).alias(C.AGGREGATION),
    ).withColumn(C.QUANTITY, F.expr(quantity).cast(QUANTITY_TYPE)).select(
        C.TENANT_ID, C.METER, C.DIMENSIONS, C.WINDOW_START, C.WINDOW_END, C.AGGREGATION, C.QUANTITY,
        F.lit(1).cast("long").alias(C.EVENT_COUNT), F.col(C.WINDOW_START).alias(C.FIRST_EVENT_TIME),
        (F.col(C.WINDOW_START) + F.expr("INTERVAL 30 MINUTES")).alias(C.LAST_EVENT_TIME), F.lit("unit").alias(C.UNIT))


def write_results(folder: Path, figures: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "billing-benchmark.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    rows = "\n".join(f"| {key} | {value} |" for key, value in figures.items())
    (folder / "billing-benchmark.md").write_text(
        "# Billing benchmark\n\n"
        f"Invoicing {figures['tenants']} tenants on plan `{figures['plan']}` for period {figures['period']}: "
        f"gold.usage_hourly contains one row per tenant, meter, dimensions and hour of the month. "
        f"`invoice_seconds` covers `compute_invoices` plus `write_invoices` (drafts, no finalization); "
        f"filling the tables is timed apart in `fill_seconds`.\n\n"
        f"Command: `{figures['command']}` on {figures['cpu_count']} CPUs, Spark {figures['spark']} "
        f"`{figures['spark_master']}`.\n\n| figure | value |\n|---|---|\n{rows}\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
