"""Locations of the logical tables and streaming checkpoints.

Every location derives from ``lake.root``: ``<root>/<layer>/<table>`` for data
and ``<root>/_checkpoints/<query>`` for checkpoints, so one setting moves the
whole lake between a local folder, ``s3a://``, ``abfss://`` or ``gs://``. When
``lake.catalog`` is set, ``register_catalog_tables`` also names each table in
the catalog as ``<catalog>.<layer>_<table>`` over the same location.
"""

from __future__ import annotations

import logging
import re

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from pipelines.config import Settings
from pipelines.errors import SetupError
from pipelines.vocabulary import Table

log = logging.getLogger(__name__)


def table_path(settings: Settings, table: Table) -> str:
    layer, name = table.value.split(".", 1)
    return f"{settings.lake.root.rstrip('/')}/{layer}/{name}"


def checkpoint_path(settings: Settings, query_name: str) -> str:
    return f"{settings.lake.checkpoint_root.rstrip('/')}/{query_name}"


def catalog_name(settings: Settings, table: Table) -> str | None:
    if not settings.lake.catalog:
        return None
    layer, name = table.value.split(".", 1)
    return f"{settings.lake.catalog}.{layer}_{name}"


def table_exists(spark: SparkSession, settings: Settings, table: Table) -> bool:
    return DeltaTable.isDeltaTable(spark, table_path(settings, table))


def require_upstream_table(spark: SparkSession, settings: Settings, table: Table, layer: str) -> None:
    """Raise SetupError when ``table``, which a stream reads, does not exist yet."""
    if not table_exists(spark, settings, table):
        raise SetupError(f"table {table.value} not found at {table_path(settings, table)}: the {layer} stream "
                         f"reads it. Run the layers before it first, for example with `meterhouse stream --once`, "
                         "which runs bronze, silver and gold in order.")


def read_table(spark: SparkSession, settings: Settings, table: Table, version: int | None = None) -> DataFrame:
    """Read a table, at ``version`` when given (Delta time travel)."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(table_path(settings, table))


def delta_table(spark: SparkSession, settings: Settings, table: Table) -> DeltaTable:
    return DeltaTable.forPath(spark, table_path(settings, table))


def current_version(spark: SparkSession, settings: Settings, table: Table) -> int | None:
    """Return the latest committed version of ``table``, or None if it does not exist."""
    if not table_exists(spark, settings, table):
        return None
    history = delta_table(spark, settings, table).history(1).select("version").collect()
    return int(history[0][0])


def ensure_table(
    spark: SparkSession,
    settings: Settings,
    table: Table,
    schema: StructType,
    partition_by: tuple[str, ...] = (),
    properties: dict[str, str] | None = None,
) -> None:
    """Create ``table`` empty with ``schema`` if it does not exist yet.

    Creating tables up front gives streams and MERGE a fixed schema and lets
    readers query a layer before its first batch arrives.
    """
    path = table_path(settings, table)
    # NOTE: a table whose newest log file is cut short passes here and fails at
    # its first scan. This was seen with the file's .crc kept. Without it, untested.
    _remove_log_without_commits(spark, path)

    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in (properties or {}).items():
        builder = builder.property(key, value)
    builder.execute()
    _register_in_catalog(spark, settings, table)
    log.debug("table %s ready at %s", table.value, path)


# A name Delta gives a commit, checkpoint or checksum of a version: 20 digits first.
_VERSION_FILE = re.compile(r"^\d{20}\.")


def _remove_log_without_commits(spark: SparkSession, path: str) -> None:
    """Delete a ``_delta_log`` folder that contains no version, left by an interrupted creation.

    A process killed while creating a table can leave ``_delta_log`` with
    nothing or only hidden temporary files in it. Delta then counts the path
    as a table, yet finds no version in it, so CREATE TABLE IF NOT EXISTS fails
    with DELTA_TABLE_NOT_FOUND on every later run. No data belongs to a log
    without a version, so removing the folder loses nothing.
    """
    filesystem, log_folder = _hadoop_path(spark, f"{path}/_delta_log")
    if not filesystem.exists(log_folder):
        return

    if _has_file(filesystem, log_folder, lambda name: bool(_VERSION_FILE.match(name)) or name == "_last_checkpoint"):
        return

    log.warning("%s/_delta_log contains no table version (a creation was interrupted); "
                "removing it and creating the table again", path)
    filesystem.delete(log_folder, True)


# The stream (by query name) that reads each table. A table created again is
# a new table to it, so its checkpoint has to go as well.
STREAM_READERS = {Table.BRONZE_EVENTS: "silver_usage_events", Table.SILVER_EVENTS: "gold_usage"}


def require_tables_of_checkpoint(spark: SparkSession, settings: Settings, query_name: str,
                                 tables: tuple[Table, ...]) -> None:
    """Raise SetupError when ``query_name`` has committed batches and one of ``tables`` is missing.

    Creating the missing table empty and going on from the checkpoint would
    silently lose every row the committed batches wrote.
    """
    checkpoint = checkpoint_path(settings, query_name)
    filesystem, commits = _hadoop_path(spark, f"{checkpoint}/commits")
    if not filesystem.exists(commits) or not _has_file(filesystem, commits, str.isdigit):
        return

    missing = [table for table in tables if not table_exists(spark, settings, table)]
    if not missing:
        return

    table = missing[0]
    message = (f"table {table.value} not found at {table_path(settings, table)}, but the {query_name} checkpoint "
               f"at {checkpoint} has committed batches that wrote to it. Restore the table from a backup, or "
               "delete that checkpoint folder so the stream starts over from its source (all of it for silver "
               "and gold, what Kafka still retains for bronze).")
    reader = STREAM_READERS.get(table)
    if reader is not None:
        message += (f" The {reader} stream reads this table, so delete its checkpoint at "
                    f"{checkpoint_path(settings, reader)} too when the table is created again.")
    raise SetupError(message)


def _hadoop_path(spark: SparkSession, path: str):
    """Return the Hadoop FileSystem for ``path`` (any scheme Spark reads) and the path itself."""
    hadoop_path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path


def _has_file(filesystem, folder, accept) -> bool:
    """Return whether a file under ``folder``, at any depth, has a name that ``accept`` takes."""
    # Each step of the listing is a call into the JVM, so it stops at the first match.
    files = filesystem.listFiles(folder, True)
    while files.hasNext():
        if accept(files.next().getPath().getName()):
            return True
    return False


def register_catalog_tables(spark: SparkSession, settings: Settings) -> None:
    """Name every existing table in ``lake.catalog`` (external tables by location)."""
    for table in Table:
        if table_exists(spark, settings, table):
            _register_in_catalog(spark, settings, table)


def _register_in_catalog(spark: SparkSession, settings: Settings, table: Table) -> None:
    # NOTE: tested against Spark's in-memory session catalog only; Unity
    # Catalog and Hive metastores take the same statements but are untested.
    name = catalog_name(settings, table)
    if name is None:
        return
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {settings.lake.catalog}")
    spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING DELTA LOCATION '{table_path(settings, table)}'")
