"""Table history for auditors, and the job tag that meterhouse writes put on commits.

Delta records every commit with its operation, parameters and row counts.
Every ``meterhouse`` command (and so every spark-submit entry and notebook)
tags its commits with the command and its arguments as the commit's
``userMetadata`` (``command_tag``), so ``meterhouse audit history`` can say
which job made a change and with which arguments. ``tagged_commits`` narrows
the tag for one block of a job.
"""

from __future__ import annotations

import json
import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import SparkSession

from pipelines.audit.errors import AuditError
from pipelines.audit.retention import table_named
from pipelines.config import Settings
from pipelines.tables import table_path

USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"

# operationMetrics keys that count rows, across WRITE, MERGE, UPDATE, DELETE
# and OPTIMIZE (Delta Lake 4 names).
ROW_METRICS = ("numOutputRows", "numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted",
               "numUpdatedRows", "numDeletedRows", "numCopiedRows", "numTargetRowsCopied")


@dataclass(frozen=True)
class Commit:
    """One entry of a Delta table's history, as an auditor reads it."""

    version: int
    timestamp: datetime
    operation: str
    parameters: dict[str, str]
    user_metadata: str | None
    row_metrics: dict[str, str]

    @property
    def job(self) -> str | None:
        """Return the meterhouse job named in ``userMetadata``, or None for untagged commits."""
        if not self.user_metadata:
            return None
        try:
            tag = json.loads(self.user_metadata)
        except ValueError:
            return None
        return tag.get("job") if isinstance(tag, dict) else None


def commit_tag(job: str, **parameters: object) -> str:
    """Return the ``userMetadata`` text for a commit made by ``job`` with ``parameters``.

    >>> commit_tag("invoice", period="2026-11", finalize=True)
    '{"finalize":"True","job":"invoice","period":"2026-11"}'
    """
    tag = {"job": job, **{key: str(value) for key, value in parameters.items()}}
    return json.dumps(tag, sort_keys=True, separators=(",", ":"))


# Arguments that are not parameters of the job, or may contain secrets. Of --set,
# only the keys are kept.
UNTAGGED_ARGUMENTS = ("handler", "verbose", "set", "command")
_command_tag: str | None = None


def tag_of_command(args: argparse.Namespace) -> str:
    """Return the commit tag of a parsed ``meterhouse`` command line: its command and arguments."""
    parameters = {name: _tag_value(value) for name, value in vars(args).items()
                  if name not in UNTAGGED_ARGUMENTS and value not in (None, False, [], "")}
    overridden = sorted(pair.split("=", 1)[0] for pair in getattr(args, "set", None) or [])
    if overridden:
        parameters["set_keys"] = ",".join(overridden)
    return commit_tag(args.command, **parameters)


def _tag_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


@contextmanager
def command_tag(args: argparse.Namespace) -> Iterator[str]:
    """Tag the commits of every session that the command builds or finds (see ``apply_command_tag``)."""
    global _command_tag
    _command_tag = tag_of_command(args)
    try:
        yield _command_tag
    finally:
        tag, _command_tag = _command_tag, None
        _clear_tag(SparkSession.getActiveSession(), tag)


def apply_command_tag(spark: SparkSession) -> None:
    """Set the running command's tag on ``spark``; called by the session builders."""
    if _command_tag is not None:
        spark.conf.set(USER_METADATA_CONF, _command_tag)


def _clear_tag(spark: SparkSession | None, tag: str) -> None:
    # A test run shares one session across commands, so the tag must not outlive its command.
    if spark is not None and spark.conf.get(USER_METADATA_CONF, None) == tag:
        spark.conf.unset(USER_METADATA_CONF)


@contextmanager
def tagged_commits(spark: SparkSession, job: str, **parameters: object) -> Iterator[str]:
    """Tag every Delta commit made in the block with ``job`` and ``parameters``.

    Sets the session configuration ``spark.databricks.delta.commitInfo.userMetadata``
    and restores the previous value afterwards, also on error. The setting is
    per session, so commits that other threads make on the same session during
    the block carry the same tag. For a streaming ``foreachBatch`` writer, pass
    ``commit_tag(...)`` as the writer option ``userMetadata`` instead.
    """
    previous = spark.conf.get(USER_METADATA_CONF, None)
    tag = commit_tag(job, **parameters)
    spark.conf.set(USER_METADATA_CONF, tag)
    try:
        yield tag
    finally:
        if previous is None:
            spark.conf.unset(USER_METADATA_CONF)
        else:
            spark.conf.set(USER_METADATA_CONF, previous)


def table_history(spark: SparkSession, settings: Settings, table: str, limit: int | None = None) -> list[Commit]:
    """Return the commits of ``table`` (a logical name such as ``gold.invoices``), newest first.

    Only commits still in the Delta log are listed; ``delta.logRetentionDuration``
    decides how far back that reaches.
    """
    from delta.tables import DeltaTable

    path = table_path(settings, table_named(table))
    if not DeltaTable.isDeltaTable(spark, path):
        raise AuditError(f"table {table} does not exist at {path}")
    history = DeltaTable.forPath(spark, path).history(limit) if limit else DeltaTable.forPath(spark, path).history()
    rows = history.select("version", "timestamp", "operation", "operationParameters", "userMetadata",
                          "operationMetrics").orderBy("version", ascending=False).collect()
    return [Commit(version=int(row["version"]), timestamp=row["timestamp"], operation=row["operation"],
                   parameters=dict(row["operationParameters"] or {}), user_metadata=row["userMetadata"],
                   row_metrics={key: value for key, value in (row["operationMetrics"] or {}).items()
                                if key in ROW_METRICS})
            for row in rows]

