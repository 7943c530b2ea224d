"""The invoice-batch scenario: one month of usage, totalled by five engines.

Monthly quantities per tenant and meter are computed from silver (Spark), from
``gold.usage_hourly`` (Spark), by DuckDB and by pandas from the raw events, and
from the generator's ground truth. All five must be identical, decimal for
decimal. The real invoice job (``compute_invoices``) is timed on gold as well.

Only meters whose hourly values roll up to a month without the events are
compared: SUM and COUNT add up, MAX takes the maximum. UNIQUE_COUNT and LATEST
need the events themselves, so a monthly figure cannot come from hourly gold.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal, localcontext
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.bench.environment import BenchEnvironment
from pipelines.config import Meter, Settings
from pipelines.load.events import KafkaRecord
from pipelines.load.generator import EVENT_TYPE_WEIGHTS, LoadGenerator, LoadProfile
from pipelines.load.ground_truth import write_ground_truth
from pipelines.load.publisher import KafkaPublisher
from pipelines.schemas import QUANTITY_TYPE
from pipelines.tables import read_table
from pipelines.vocabulary import Aggregation
from pipelines.vocabulary import Column as C
from pipelines.vocabulary import Table

MonthlyTotals = dict[tuple[str, str], Decimal]
ROLLED_UP = (Aggregation.SUM, Aggregation.COUNT, Aggregation.MAX)
# Lines parsed per pandas chunk. Estimated, not measured: under a gigabyte of
# Python objects per chunk, where 10 million events at once would need tens.
PANDAS_CHUNK_LINES = 500_000


def rolled_up_meters(settings: Settings) -> list[Meter]:
    """Return the generator's meters whose monthly total can come from hourly gold."""
    return [meter for meter in settings.meters if meter.event_type in EVENT_TYPE_WEIGHTS and meter.aggregation in ROLLED_UP]


def previous_month(now: datetime) -> tuple[str, datetime, int]:
    """Return the last whole UTC month before ``now``: its name (YYYY-MM), start and length in seconds.

    The month moves with the wall clock that stamps the Kafka records, so its
    events are at most 62 days old and stay within the default
    ``ingest.max_event_age_days`` of 90.
    """
    this_month = now.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (this_month - timedelta(days=1)).replace(day=1)
    return start.strftime("%Y-%m"), start, int((this_month - start).total_seconds())


def invoice_batch(spark_factory, environment: BenchEnvironment, scale: dict, result) -> None:
    """Fill one month through the streams, then total it five ways and time each."""
    events, tenants = scale["events"], scale["tenants"][0]
    environment.start_broker()
    settings = environment.settings
    meters = rolled_up_meters(settings)
    period, period_start, period_seconds = previous_month(datetime.now(timezone.utc))
    profile = LoadProfile(tenants=tenants, rate=events / (tenants * period_seconds), duration_seconds=period_seconds,
                          start=period_start, late_ratio=0.0, malformed_ratio=0.0, seed=scale.get("seed", 7))
    generator = LoadGenerator(profile, settings.meters)
    raw_events = environment.folder / "raw-events.jsonl"
    # The records are written to the raw file as they are published, never held
    # in a list: at 10 million events the list alone would take gigabytes.
    with raw_events.open("wb") as raw_file:
        publish = KafkaPublisher(settings.kafka).publish(_also_written(generator.records(), raw_file))
    ground_truth = environment.folder / "invoice-ground-truth.csv"
    write_ground_truth(generator.totals.totals(), ground_truth)

    started = time.monotonic()
    fill_runs = environment.run_stream_once("all", log_name="invoice-fill")
    fill_seconds = time.monotonic() - started

    spark = spark_factory()
    timings, totals = {}, {}
    totals["ground_truth"] = totals_from_ground_truth(ground_truth, meters)
    for name, compute in (("spark_silver", lambda: totals_from_silver(spark, settings, meters)),
                          ("spark_gold", lambda: totals_from_gold(spark, settings, meters)),
                          ("duckdb_raw", lambda: totals_with_duckdb(raw_events, meters)),
                          ("pandas_raw", lambda: totals_with_pandas(raw_events, meters))):
        started = time.monotonic()
        totals[name] = compute()
        timings[name] = round(time.monotonic() - started, 3)
    started = time.monotonic()
    invoices = invoice_figures(spark, settings, period, profile.tenant_ids())
    timings["invoices_from_gold"] = round(time.monotonic() - started, 3)

    differences = {name: count_differences(totals["ground_truth"], values) for name, values in totals.items()}
    result.billing_exact = all(count == 0 for count in differences.values())
    result.figures.update({
        "events": generator.summary.events, "records": publish.sent, "tenants": tenants, "period": period,
        "duplicates": generator.summary.duplicates, "published": publish.delivered,
        "raw_events_bytes": raw_events.stat().st_size,
        "fill_seconds_including_spark_start": round(fill_seconds, 2), "fill_runs": fill_runs,
        "meters_compared": [meter.name for meter in meters], "monthly_rows": len(totals["ground_truth"]),
        "seconds": timings, "rows_differing_from_ground_truth": differences, "invoices": invoices,
        "grand_total_quantity": format(sum(totals["ground_truth"].values(), Decimal(0)), "f"),
    })
    for name, seconds in timings.items():
        ratio = seconds / timings["duckdb_raw"] if timings["duckdb_raw"] else None
        result.add_headline(f"{name}, s (ratio to DuckDB from raw events)", f"{seconds} ({ratio:.2f}×)" if ratio else seconds,
                            "faster than DuckDB" if name == "invoices_from_gold" else "")
    result.add_headline("monthly (tenant, meter) totals differing from ground truth, per engine",
                        ", ".join(f"{name} {count}" for name, count in differences.items()), "all 0")


def totals_from_ground_truth(path: Path, meters: Iterable[Meter]) -> MonthlyTotals:
    from pipelines.bench.exactness import read_ground_truth

    aggregations = {meter.name: meter.aggregation for meter in meters}
    totals: MonthlyTotals = {}
    for (tenant_id, meter, _, _), (quantity, _) in read_ground_truth(path).items():
        if meter in aggregations:
            _fold(totals, (tenant_id, meter), quantity, aggregations[meter])
    return totals


def totals_from_silver(spark: SparkSession, settings: Settings, meters: Iterable[Meter]) -> MonthlyTotals:
    silver = read_table(spark, settings, Table.SILVER_EVENTS)
    frames = []
    for meter in meters:
        value = F.lit(1).cast(QUANTITY_TYPE) if meter.aggregation is Aggregation.COUNT else \
            F.get_json_object(C.DATA, meter.value_path).cast(QUANTITY_TYPE)
        aggregate = F.max(value) if meter.aggregation is Aggregation.MAX else F.sum(value)
        frames.append(silver.filter(F.col(C.EVENT_TYPE) == meter.event_type)
                      .groupBy(C.TENANT_ID).agg(aggregate.alias(C.QUANTITY)).withColumn(C.METER, F.lit(meter.name)))
    return _collect(_union(frames))


def totals_from_gold(spark: SparkSession, settings: Settings, meters: Iterable[Meter]) -> MonthlyTotals:
    gold = read_table(spark, settings, Table.GOLD_HOURLY)
    frames = []
    for meter in meters:
        aggregate = F.max(C.QUANTITY) if meter.aggregation is Aggregation.MAX else F.sum(C.QUANTITY)
        frames.append(gold.filter(F.col(C.METER) == meter.name).groupBy(C.TENANT_ID)
                      .agg(aggregate.cast(QUANTITY_TYPE).alias(C.QUANTITY)).withColumn(C.METER, F.lit(meter.name)))
    return _collect(_union(frames))


def totals_with_duckdb(raw_events: Path, meters: Iterable[Meter]) -> MonthlyTotals:
    """Deduplicate on (subject, id) and total each meter; numbers are read as text, then DECIMAL(38, 12)."""
    import duckdb

    connection = duckdb.connect()
    connection.execute(
        "CREATE TEMP TABLE events AS SELECT subject, id, type, data FROM read_json(?, format='newline_delimited', "
        "columns={'subject': 'VARCHAR', 'id': 'VARCHAR', 'type': 'VARCHAR', 'data': 'JSON'}) "
        "QUALIFY row_number() OVER (PARTITION BY subject, id) = 1", [str(raw_events)])
    selects = []
    for meter in meters:
        value = "CAST(1 AS DECIMAL(38, 12))" if meter.aggregation is Aggregation.COUNT else \
            f"CAST(json_extract_string(data, '{meter.value_path}') AS DECIMAL(38, 12))"
        aggregate = "max" if meter.aggregation is Aggregation.MAX else "sum"
        selects.append(f"SELECT subject, '{meter.name}' AS meter, CAST({aggregate}({value}) AS VARCHAR) AS quantity "
                       f"FROM events WHERE type = '{meter.event_type}' GROUP BY subject")
    rows = connection.execute(" UNION ALL ".join(selects)).fetchall()
    connection.close()
    return {(tenant_id, meter): Decimal(quantity) for tenant_id, meter, quantity in rows}


def totals_with_pandas(raw_events: Path, meters: Iterable[Meter]) -> MonthlyTotals:
    """Parse numbers as ``Decimal`` (never float), drop repeated (subject, id) pairs and total each meter.

    The file is read in chunks of lines so that 10 million events fit in memory.
    The pairs already seen are kept across chunks, so a duplicate in a later
    chunk is dropped too. Sums run with 38 significant digits, the precision of
    DECIMAL(38, 12), instead of Python's default of 28.

    NOTE: this keeps the first delivery of a pair and DuckDB keeps any one of
    them. The two agree because the generator's redeliveries are byte-for-byte
    copies. A load whose duplicates differ would need a rule for which one counts.
    """
    meters = list(meters)
    seen: set[str] = set()
    totals: MonthlyTotals = {}
    with raw_events.open(encoding="utf-8") as handle, localcontext() as context:
        context.prec = 38
        for lines in _chunks(handle, PANDAS_CHUNK_LINES):
            frame = _first_deliveries(_events_frame(lines), seen)
            for meter in meters:
                _fold_meter_with_pandas(totals, frame, meter)
    return totals


def _chunks(handle, size: int) -> Iterator[list[str]]:
    chunk = []
    for line in handle:
        if line.strip():
            chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _events_frame(lines: list[str]):
    import pandas as pd

    parsed = [json.loads(line, parse_float=Decimal, parse_int=Decimal) for line in lines]
    return pd.DataFrame({"subject": [event["subject"] for event in parsed], "id": [event["id"] for event in parsed],
                         "type": [event["type"] for event in parsed], "data": [event["data"] for event in parsed]})


def _first_deliveries(frame, seen: set[str]):
    """Keep the first row of each (subject, id) pair not seen in an earlier chunk, and remember the pairs kept."""
    keys = frame["subject"] + "\x00" + frame["id"]
    first = ~keys.duplicated() & ~keys.map(seen.__contains__).astype(bool)
    seen.update(keys[first])
    return frame[first]


def _fold_meter_with_pandas(totals: MonthlyTotals, frame, meter: Meter) -> None:
    import pandas as pd

    events = frame[frame["type"] == meter.event_type]
    if meter.aggregation is Aggregation.COUNT:
        values = pd.Series([Decimal(1)] * len(events), index=events.index, dtype=object)
    else:
        key = meter.value_path.removeprefix("$.")
        # A quantity may be a JSON number (parsed to Decimal) or a decimal string.
        values = events["data"].map(lambda data: Decimal(data[key]))
    grouped = values.groupby(events["subject"])
    reduced = grouped.max() if meter.aggregation is Aggregation.MAX else grouped.sum()
    for tenant_id, quantity in reduced.items():
        _fold(totals, (tenant_id, meter.name), Decimal(quantity), meter.aggregation)


def _also_written(records: Iterable[KafkaRecord], raw_file) -> Iterator[KafkaRecord]:
    for record in records:
        raw_file.write(record.value + b"\n")
        yield record


def invoice_figures(spark: SparkSession, settings: Settings, period: str, tenant_ids: list[str]) -> dict:
    """Run the invoice job's computation on gold (nothing is written) and return its totals."""
    from pipelines.billing.invoices import compute_invoices

    run = compute_invoices(spark, settings, period, tenant_ids=tenant_ids)
    rated = list(run.rated.values())
    return {"invoices": len(rated), "lines": sum(len(invoice.lines) for invoice in rated),
            "grand_total": format(sum((invoice.total for invoice in rated), Decimal(0)), "f"),
            "currencies": sorted({invoice.currency for invoice in rated})}


def count_differences(expected: MonthlyTotals, actual: MonthlyTotals) -> int:
    """Count (tenant, meter) keys missing on one side or with different quantities."""
    return sum(1 for key in expected.keys() | actual.keys() if expected.get(key) != actual.get(key))


def _fold(totals: MonthlyTotals, key: tuple[str, str], quantity: Decimal, aggregation: Aggregation) -> None:
    if key not in totals:
        totals[key] = quantity
    elif aggregation is Aggregation.MAX:
        totals[key] = max(totals[key], quantity)
    else:
        totals[key] += quantity


def _union(frames: list[DataFrame]) -> DataFrame:
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return union


def _collect(frame: DataFrame) -> MonthlyTotals:
    rows = frame.select(C.TENANT_ID, C.METER, F.col(C.QUANTITY).cast("string").alias(C.QUANTITY)).collect()
    return {(row[C.TENANT_ID], row[C.METER]): Decimal(row[C.QUANTITY]) for row in rows}
