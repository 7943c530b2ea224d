"""The tables of one period that an export contains, read at pinned Delta versions.

Each dataset is a fixed column list with Arrow types and rows as plain Python
values, sorted by its key, so that writing it twice gives the same bytes.
Nested reconciliation columns (maps, arrays) become JSON text with sorted keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.billing.vocabulary import InvoiceColumn as I
from pipelines.config import Settings
from pipelines.reconciliation.conservation import month_bounds
from pipelines.reconciliation.report import RC
from pipelines.tables import current_version, read_table
from pipelines.vocabulary import Column as C
from pipelines.vocabulary import Table

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
EXPORTED_TABLES = (Table.GOLD_INVOICES, Table.GOLD_INVOICE_LINES, Table.GOLD_DAILY, Table.GOLD_RECONCILIATION)


@dataclass(frozen=True)
class Dataset:
    """One exported table: file stem, Arrow schema (column order included), sorted rows."""

    name: str
    schema: pa.Schema
    rows: tuple[dict, ...]
    tenant_column: str = C.TENANT_ID

    def for_tenant(self, tenant_id: str) -> Dataset:
        rows = tuple(row for row in self.rows if row[self.tenant_column] == tenant_id)
        return Dataset(self.name, self.schema, rows, self.tenant_column)

    @property
    def tenant_ids(self) -> set[str]:
        return {row[self.tenant_column] for row in self.rows}


def pin_versions(spark: SparkSession, settings: Settings) -> dict[str, int | None]:
    """Return the current version of every exported table (None when it does not exist)."""
    return {table.value: current_version(spark, settings, table) for table in EXPORTED_TABLES}


def read_datasets(spark: SparkSession, settings: Settings, period: str, versions: dict[str, int | None]) -> list[Dataset]:
    """Read invoices, lines, daily usage and reconciliation of ``period`` at ``versions``.

    Daily usage covers the UTC month of ``period``; the other tables select
    their ``period`` column. A table that does not exist gives an empty dataset.
    """
    start, end = month_bounds(period)
    selections = (
        ("invoices", Table.GOLD_INVOICES, F.col(I.PERIOD) == period, (I.TENANT_ID, I.DOCUMENT_TYPE, I.INVOICE_ID)),
        ("invoice_lines", Table.GOLD_INVOICE_LINES, F.col(I.PERIOD) == period,
         (I.TENANT_ID, I.INVOICE_ID, I.LINE_NUMBER)),
        ("usage_daily", Table.GOLD_DAILY, (F.col(C.WINDOW_START) >= F.lit(start)) & (F.col(C.WINDOW_START) < F.lit(end)),
         (C.TENANT_ID, C.METER, C.DIMENSIONS, C.WINDOW_START)),
        ("reconciliation", Table.GOLD_RECONCILIATION, F.col(RC.PERIOD) == period, (RC.TENANT_ID,)),
    )
    datasets = []
    for name, table, condition, key in selections:
        version = versions.get(table.value)
        if version is None:
            datasets.append(Dataset(name, pa.schema([(C.TENANT_ID, pa.string())]), ()))
            continue
        frame = read_table(spark, settings, table, version).where(condition)
        datasets.append(to_dataset(name, frame, key))
    return datasets


def to_dataset(name: str, frame: DataFrame, key: tuple[str, ...]) -> Dataset:
    """Collect ``frame`` as plain values sorted by ``key`` (then every column, for ties)."""
    columns, fields = [], []
    for field in frame.schema.fields:
        column, arrow_type = _plain_column(field)
        columns.append(column.alias(field.name))
        fields.append(pa.field(field.name, arrow_type, nullable=True))
    ordered = frame.select(*columns).orderBy(*key, *[name for name in frame.columns if name not in key])
    timestamps = [field.name for field in frame.schema.fields if isinstance(field.dataType, T.TimestampType)]
    rows = []
    for row in ordered.collect():
        values = row.asDict()
        for column in timestamps:
            if values[column] is not None:
                values[column] = EPOCH + timedelta(microseconds=values[column])
        rows.append(values)
    return Dataset(name, pa.schema(fields), tuple(rows))


def _plain_column(field: T.StructField):
    column = F.col(field.name)
    data_type = field.dataType
    if isinstance(data_type, T.TimestampType):
        # Microseconds since the epoch: collected timestamps would otherwise
        # turn into the driver's local time.
        return F.unix_micros(column), pa.timestamp("us", tz="UTC")
    if isinstance(data_type, T.DecimalType):
        return column, pa.decimal128(data_type.precision, data_type.scale)
    if isinstance(data_type, (T.MapType, T.ArrayType, T.StructType)):
        return F.to_json(column), pa.string()
    simple = {T.StringType: pa.string(), T.LongType: pa.int64(), T.IntegerType: pa.int32(),
              T.BooleanType: pa.bool_(), T.DateType: pa.date32(), T.DoubleType: pa.float64()}
    for spark_type, arrow_type in simple.items():
        if isinstance(data_type, spark_type):
            return column, arrow_type
    return column.cast("string"), pa.string()
