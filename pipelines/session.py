"""Building the SparkSession that meterhouse jobs run in.

Jobs receive the session as an argument; only entry points (CLI, spark-submit
entries, notebooks, tests) build one. On Databricks and under ``spark-submit
--packages`` the session already has Delta and the Kafka connector, so
``get_or_build_session`` reuses it instead of adding local jars.
"""

from __future__ import annotations

import logging
import os

from pyspark.sql import SparkSession

from pipelines.audit.history import apply_command_tag
from pipelines.config import Settings

log = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def build_local_session(settings: Settings, extra_conf: dict[str, str] | None = None) -> SparkSession:
    """Build a session on ``settings.spark.master`` with the cached local jars.

    Money relies on ANSI mode: a decimal overflow raises instead of turning into
    NULL. The session time zone is UTC because storage is UTC.
    """
    from pipelines.runtime.jars import spark_jars

    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    # Read by the JVM at start-up for every address Spark picks on its own;
    # without it Spark chooses the first non-loopback interface.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    jars = ",".join(str(path) for path in spark_jars())
    builder = (
        SparkSession.builder.master(settings.spark.master)
        .appName(settings.spark.app_name)
        .config("spark.jars", jars)
        .config("spark.sql.extensions", DELTA_EXTENSION)
        .config("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.shuffle.partitions", str(settings.spark.shuffle_partitions))
        .config("spark.databricks.delta.schema.autoMerge.enabled", "false")
        .config("spark.sql.warehouse.dir", os.path.join(settings.lake.root, "_warehouse"))
        # A local session serves no other machine, so its driver listens on loopback only.
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
    )
    for key, value in {**settings.spark.conf, **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    apply_command_tag(session)
    log.info("Spark %s session on %s", session.version, settings.spark.master)
    return session


def get_or_build_session(settings: Settings) -> SparkSession:
    """Return the active session (cluster, Databricks) or build a local one."""
    active = SparkSession.getActiveSession()
    if active is None and os.environ.get("METERHOUSE_USE_SUBMITTED_SESSION") == "1":
        active = SparkSession.builder.getOrCreate()
    if active is None:
        return build_local_session(settings)
    apply_command_tag(active)
    return active
