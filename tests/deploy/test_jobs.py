"""The spark-submit entries and the notebook parameter mapping, without Spark."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from pipelines.config import DEFAULT_CONF, PROJECT_ROOT
from pipelines.jobs import bronze, invoice
from pipelines.jobs.entry import EXIT_UNAVAILABLE, Job, JobUnavailableError
from pipelines.jobs.periods import month_of, previous_month
from pipelines.jobs.notebook import JobFailedError, run_job_from_widgets, widget_arguments

JOB_NAMES = ("bronze", "silver", "gold", "invoice", "reconcile", "export", "quality", "audit", "maintain")
MISSING_JOB = Job(name="ledger", command="ledger", module="pipelines.ledger.commands", summary="Not built.")


@pytest.mark.parametrize("name", JOB_NAMES)
def test_job_entry_exists(name):
    module = importlib.import_module(f"pipelines.jobs.{name}")

    assert (PROJECT_ROOT / "pipelines" / "jobs" / f"{name}.py").is_file()
    assert module.JOB.name == name
    assert callable(module.main)


def test_stream_job_fixes_layer():
    options, cli_argv = bronze.JOB.cli_arguments(["--conf", "conf/cluster.yaml", "--set", "lake.root=/lake", "--once"])

    assert options.conf == "conf/cluster.yaml"
    assert cli_argv == ["--conf", "conf/cluster.yaml", "--set", "lake.root=/lake", "stream", "--layer", "bronze", "--once"]


def test_stream_job_rejects_other_layer(capsys):
    with pytest.raises(SystemExit) as raised:
        bronze.JOB.cli_arguments(["--conf", "conf/cluster.yaml", "--layer", "silver"])

    assert raised.value.code == 2
    assert "--layer is fixed by this job to --layer bronze" in capsys.readouterr().err


def test_job_requires_conf(capsys):
    with pytest.raises(SystemExit) as raised:
        bronze.JOB.cli_arguments(["--once"])

    assert raised.value.code == 2
    assert "--conf" in capsys.readouterr().err


def test_job_rejects_unknown_option(capsys):
    with pytest.raises(SystemExit) as raised:
        bronze.JOB.cli_arguments(["--conf", "conf/cluster.yaml", "--twice"])

    assert raised.value.code == 2
    assert "--twice" in capsys.readouterr().err


@pytest.mark.parametrize(("day", "period"), [
    ("2026-12-04", "2026-11"),
    ("2027-01-01", "2026-12"),
    ("2028-03-31", "2028-02"),
])
def test_previous_month(day, period):
    from datetime import date

    assert previous_month(date.fromisoformat(day)) == period


def test_month_of():
    from datetime import date

    assert month_of(date(2026, 12, 31)) == "2026-12"


def test_invoice_job_turns_run_date_into_period():
    _, cli_argv = invoice.JOB.cli_arguments(["--conf", "c.yaml", "--previous-month-of", "2027-01-04", "--finalize"])

    assert cli_argv == ["--conf", "c.yaml", "invoice", "--finalize", "--period", "2026-12"]


def test_invoice_job_rejects_both_period_options(capsys):
    with pytest.raises(SystemExit) as raised:
        invoice.JOB.cli_arguments(["--conf", "c.yaml", "--previous-month-of", "2027-01-04", "--period", "2026-11"])

    assert raised.value.code == 2
    assert "--previous-month-of and --period exclude each other" in capsys.readouterr().err


def test_missing_command_fails_clearly(capsys):
    exit_code = MISSING_JOB.main(["--conf", str(DEFAULT_CONF)])

    error = capsys.readouterr().err
    assert exit_code == EXIT_UNAVAILABLE
    assert "job 'ledger' cannot run: module pipelines.ledger.commands is not in this build" in error
    assert "stream" in error


def test_invalid_conf_fails_before_spark(tmp_path, capsys):
    exit_code = bronze.JOB.main(["--conf", str(tmp_path / "missing.yaml"), "--once"])

    assert exit_code == 2
    assert "file not found" in capsys.readouterr().err


def test_widgets_map_to_arguments():
    widgets = {"conf": "/Workspace/conf/databricks.yaml", "once": "true", "lake.root": "abfss://lake@a/m",
               "lake.catalog": "", "verbose": "false"}

    arguments = widget_arguments(bronze.JOB, widgets)

    assert arguments == ["--conf", "/Workspace/conf/databricks.yaml", "--set", "lake.root=abfss://lake@a/m", "--once"]


def test_widgets_split_repeatable_option():
    widgets = {"conf": "c.yaml", "period": "2026-11", "tenant": "acme, globex"}

    arguments = widget_arguments(invoice.JOB, widgets)

    assert arguments == ["--conf", "c.yaml", "--period", "2026-11", "--tenant", "acme", "--tenant", "globex"]


def test_widgets_place_positional_arguments_last():
    widgets = {"conf": "c.yaml", "arguments": "tenant acme --period 2026-11", "verbose": "true"}

    arguments = widget_arguments(bronze.JOB, widgets)

    assert arguments == ["--conf", "c.yaml", "--verbose", "tenant", "acme", "--period", "2026-11"]


def test_widgets_report_every_problem():
    widgets = {"conf": "c.yaml", "layer": "silver", "once": "maybe", "tenant": "acme"}

    with pytest.raises(JobFailedError) as raised:
        widget_arguments(bronze.JOB, widgets)

    message = str(raised.value)
    assert "widget 'layer' matches no option of job 'bronze'" in message
    assert "widget 'once' is a flag and takes true or false, found 'maybe'" in message
    assert "widget 'tenant' matches no option of job 'bronze'" in message
    assert "valid names: arguments, conf, once, set, timeout, verbose" in message


def test_missing_command_fails_notebook():
    with pytest.raises(JobUnavailableError) as raised:
        run_job_from_widgets(MISSING_JOB, {"conf": str(DEFAULT_CONF)})

    assert "job 'ledger' cannot run: module pipelines.ledger.commands is not in this build" in str(raised.value)


def test_notebook_job_with_invalid_arguments_raises():
    with pytest.raises(JobFailedError) as raised:
        run_job_from_widgets(bronze.JOB, {"conf": str(DEFAULT_CONF), "timeout": "soon"})

    assert "exited with code 2" in str(raised.value)
