"""Shared machinery of the ``spark-submit`` entries in ``pipelines/jobs``.

Each entry is a ``Job``: a fixed ``meterhouse`` sub-command (``stream --layer
bronze``, ``invoice``, ...) plus the options that the job accepts. ``Job.main``
turns its own arguments into a ``meterhouse`` command line and runs
``pipelines.cli.main``, so an entry and the CLI share one parser, one set of
parameters and one code path.

Before the command runs, the entry opens the session that ``spark-submit``
configured (``--master``, ``--packages``, ``--conf``), applies the SQL settings
that meterhouse relies on, and sets ``METERHOUSE_USE_SUBMITTED_SESSION=1`` so
that the command reuses that session instead of building a local one.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipelines.errors import MeterhouseError, SetupError

log = logging.getLogger(__name__)

SUBMITTED_SESSION_VARIABLE = "METERHOUSE_USE_SUBMITTED_SESSION"

# Exit codes: 2 is what the CLI returns for a MeterhouseError and what argparse
# uses for invalid arguments. 3 marks a job that this build cannot run.
EXIT_UNAVAILABLE = 3

# SQL settings that the pipelines rely on, applied to the submitted session at
# run time. Storage and ingest dates are UTC, and money relies on ANSI mode, so
# a decimal overflow raises instead of becoming NULL.
REQUIRED_SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
}


class JobUnavailableError(MeterhouseError):
    """The sub-command behind a job is not part of this build."""


ArgumentRewriter = Callable[[argparse.ArgumentParser, argparse.Namespace, list[str]], list[str]]


@dataclass(frozen=True)
class Job:
    """One ``spark-submit`` entry: a CLI sub-command with some arguments fixed.

    ``fixed_arguments`` follow the sub-command on every run (``--layer bronze``)
    and the caller may not repeat their options. ``add_options`` adds options
    that only the entry has, and ``rewrite`` turns them into CLI arguments.
    """

    name: str
    command: str
    module: str
    summary: str
    fixed_arguments: tuple[str, ...] = ()
    add_options: Callable[[argparse.ArgumentParser], None] | None = field(default=None, repr=False)
    rewrite: ArgumentRewriter | None = field(default=None, repr=False)

    def main(self, argv: Sequence[str] | None = None) -> int:
        """Run the job under ``spark-submit`` and return its exit code."""
        try:
            options, cli_argv = self.cli_arguments(sys.argv[1:] if argv is None else argv)
        except JobUnavailableError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_UNAVAILABLE

        from pipelines.cli import configure_logging, main, parse_overrides
        from pipelines.config import load_settings

        configure_logging(options.verbose)
        try:
            settings = load_settings(options.conf, parse_overrides(options.set))
            open_submitted_session(settings)
        except MeterhouseError as error:
            log.debug("job %s could not start", self.name, exc_info=True)
            print(f"error: {error}", file=sys.stderr)
            return 2
        # Log the sub-command and its arguments only; --set values stay out of the log.
        command_start = 2 + 2 * len(options.set) + int(options.verbose)
        log.info("job %s: meterhouse %s", self.name, " ".join(cli_argv[command_start:]))
        return main(cli_argv)

    def cli_arguments(self, argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
        """Validate ``argv`` and return it with the matching ``meterhouse`` arguments.

        Raises ``SystemExit(2)`` with a usage message for invalid arguments, as
        argparse does, and ``JobUnavailableError`` when the sub-command is missing.
        """
        if "-h" in argv or "--help" in argv:
            print(self.entry_parser().format_help())
            print(self.command_parser().format_help())
            raise SystemExit(0)
        entry_parser = self.entry_parser()
        options, rest = entry_parser.parse_known_args(argv)
        self._reject_fixed_options(rest)
        if self.rewrite is not None:
            rest = self.rewrite(entry_parser, options, rest)

        cli_argv = ["--conf", options.conf]
        for pair in options.set:
            cli_argv += ["--set", pair]
        if options.verbose:
            cli_argv.append("--verbose")
        cli_argv += [self.command, *self.fixed_arguments, *rest]

        # The CLI parser reports unknown or invalid job arguments here, before
        # any Spark work starts.
        parser = cli_parser()
        self._find_command_parser(parser)
        parser.parse_args(cli_argv)
        return options, cli_argv

    def entry_parser(self) -> argparse.ArgumentParser:
        """Return the parser of the options that every entry takes, plus the job's own."""
        parser = argparse.ArgumentParser(
            prog=f"pipelines/jobs/{self.name}.py", add_help=False, allow_abbrev=False,
            description=f"{self.summary} Other arguments are those of `meterhouse {self.command}`.")
        parser.add_argument("--conf", required=True, metavar="FILE",
                            help="environment file, e.g. conf/cluster.yaml (relative paths inside it resolve "
                                 "against its folder)")
        parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                            help="override one setting, e.g. --set lake.root=s3a://bucket/lake (repeatable)")
        parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
        if self.add_options is not None:
            self.add_options(parser)
        return parser

    def command_parser(self) -> argparse.ArgumentParser:
        """Return the CLI parser of this job's sub-command.

        Raises ``JobUnavailableError`` naming the module when the sub-command is
        not registered, so an entry written ahead of its command fails clearly.
        """
        return self._find_command_parser(cli_parser())

    def _find_command_parser(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        subparsers = _subparsers(parser)
        if self.command in subparsers.choices:
            return subparsers.choices[self.command]
        if not _module_exists(self.module):
            reason = f"module {self.module} is not in this build"
        else:
            reason = f"module {self.module} does not register a `{self.command}` sub-command"
        raise JobUnavailableError(
            f"job {self.name!r} cannot run: {reason}. Available sub-commands: {', '.join(sorted(subparsers.choices))}.")

    def _reject_fixed_options(self, rest: list[str]) -> None:
        fixed = [argument for argument in self.fixed_arguments if argument.startswith("-")]
        repeated = [argument for argument in rest if argument.split("=", 1)[0] in fixed]
        if repeated:
            self.entry_parser().error(f"{', '.join(repeated)} is fixed by this job to "
                                      f"{' '.join(self.fixed_arguments)}; use the matching job instead")


def open_submitted_session(settings):
    """Return the session that ``spark-submit`` configured, with meterhouse's SQL settings.

    An active session (Databricks, a notebook) is used as it is configured.
    A new one must have Delta Lake from ``spark-submit``, or ``SetupError`` is
    raised. The environment file's ``spark.shuffle_partitions`` and its
    ``spark.conf`` keys are then applied where Spark allows run-time changes.
    Static keys (memory, UI, extensions) belong to ``spark-submit --conf``, so
    they are skipped with a DEBUG message.
    """
    from pyspark.errors import AnalysisException
    from pyspark.sql import SparkSession

    os.environ[SUBMITTED_SESSION_VARIABLE] = "1"
    spark = SparkSession.getActiveSession()
    if spark is None:
        spark = SparkSession.builder.appName(settings.spark.app_name).getOrCreate()
        _check_delta_configured(spark)

    session_conf = {**REQUIRED_SQL_CONF, "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions),
              **settings.spark.conf}
    for key, value in session_conf.items():
        try:
            spark.conf.set(key, value)
        except AnalysisException:
            log.debug("%s cannot change at run time; pass it to spark-submit with --conf", key)
    log.info("using the submitted Spark %s session (master %s, app %s)",
             spark.version, spark.sparkContext.master, spark.sparkContext.appName)
    return spark


def _check_delta_configured(spark) -> None:
    from pipelines.session import DELTA_CATALOG, DELTA_EXTENSION

    missing = []
    if DELTA_EXTENSION not in spark.conf.get("spark.sql.extensions", ""):
        missing.append(f"--conf spark.sql.extensions={DELTA_EXTENSION}")
    if spark.conf.get("spark.sql.catalog.spark_catalog", "") != DELTA_CATALOG:
        missing.append(f"--conf spark.sql.catalog.spark_catalog={DELTA_CATALOG}")
    if missing:
        raise SetupError("the submitted Spark session has no Delta Lake support; pass "
                         f"{' '.join(missing)} and --packages io.delta:delta-spark_4.2_2.13:4.4.0 to spark-submit")


def cli_parser() -> argparse.ArgumentParser:
    from pipelines.cli import build_parser

    return build_parser()


def _module_exists(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        # find_spec raises when a parent package is missing.
        return False


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError("the meterhouse parser has no sub-commands")
