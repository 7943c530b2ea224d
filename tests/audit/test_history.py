"""Table history for auditors, and the commands that print it."""

from __future__ import annotations

import json

from pipelines.audit.history import USER_METADATA_CONF, commit_tag, table_history, tag_of_command
from pipelines.cli import build_parser, main
from pipelines.vocabulary import Table


def test_commit_tag_is_sorted_json():
    assert commit_tag("invoice", period="2026-11", finalize=True) == \
        '{"finalize":"True","job":"invoice","period":"2026-11"}'


def test_history_names_job_and_rows(spark, issued_lake):
    settings = issued_lake.settings

    commits = table_history(spark, settings, Table.GOLD_INVOICES.value)

    assert [(commit.version, commit.operation, commit.job) for commit in commits] == [
        (3, "MERGE", None), (2, "MERGE", "invoice"), (1, "MERGE", "invoice"), (0, "CREATE TABLE", "invoice")]
    assert commits[1].row_metrics["numTargetRowsUpdated"] == "2"
    assert commits[0].row_metrics["numTargetRowsInserted"] == "1"


def test_cli_exit_codes_follow_verdicts(spark, issued_lake, capsys):
    settings = issued_lake.settings
    lake = ["--set", f"lake.root={settings.lake.root}"]

    intact = main(lake + ["audit", "ledger"])
    rejected = main(lake + ["maintain", "--retain-days", "30"])

    output = capsys.readouterr()
    assert intact == 0
    assert "ledger: 3 records, intact" in output.out
    assert rejected == 2
    assert "retention of 30 days is shorter than the window of" in output.err


def test_command_tag_keeps_arguments_not_set_values():
    args = build_parser().parse_args(["--set", "kafka.options.sasl.password=hunter2", "--set", "lake.root=/tmp/x",
                                      "invoice", "--period", "2026-11", "--tenant", "acme", "--finalize"])

    tag = tag_of_command(args)

    assert tag == ('{"finalize":"True","job":"invoice","period":"2026-11",'
                   '"set_keys":"kafka.options.sasl.password,lake.root","tenants":"acme"}')
    assert "hunter2" not in tag


def test_cli_commits_carry_command_tag(spark, settings):
    exit_code = main(["--set", f"lake.root={settings.lake.root}", "invoice", "--period", "2026-11", "--tenant", "acme"])

    newest = table_history(spark, settings, Table.GOLD_INVOICES.value)[0]
    assert exit_code == 0
    assert newest.job == "invoice"
    assert json.loads(newest.user_metadata)["period"] == "2026-11"
    assert spark.conf.get(USER_METADATA_CONF, None) is None
