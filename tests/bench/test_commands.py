"""The bench command line: options that replace a scale's values and name the result files."""

import argparse
import re
from pathlib import Path

import pytest

from pipelines.bench.commands import (
    SCALES,
    make_run_folder,
    register_commands,
    scale_label,
    scale_of,
    stream_overrides,
)
from pipelines.bench.errors import BenchError


def parse_bench(*arguments):
    parser = argparse.ArgumentParser()
    register_commands(parser.add_subparsers())
    return parser.parse_args(["bench", *arguments])


def test_tenants_option_replaces_the_scale_tenants():
    args = parse_bench("tenant-load", "--scale", "full", "--tenants", "100", "500")

    scale = scale_of(args)

    assert scale["tenants"] == [100, 500]
    assert scale["duration_seconds"] == SCALES["full"]["tenant-load"]["duration_seconds"]
    assert SCALES["full"]["tenant-load"]["tenants"] == [100, 500, 1000]


def test_scale_tenants_without_the_option():
    assert scale_of(parse_bench("memory", "--scale", "small"))["tenants"] == SCALES["small"]["memory"]["tenants"]


@pytest.mark.parametrize("text", ["0", "-5", "ten"])
def test_tenants_option_rejects_non_positive_counts(text, capsys):
    with pytest.raises(SystemExit):
        parse_bench("tenant-load", "--tenants", text)

    assert "expected a whole number above 0" in capsys.readouterr().err


def test_repeated_tenant_count_is_rejected():
    args = parse_bench("tenant-load", "--tenants", "100", "100")

    with pytest.raises(BenchError, match="lists a count twice"):
        scale_of(args)


def test_tenants_option_names_the_result_files():
    assert scale_label(parse_bench("tenant-load", "--scale", "full", "--tenants", "100", "500")) == "full-100-500-tenants"
    assert scale_label(parse_bench("tenant-load", "--scale", "full")) == "full"


def test_start_rate_and_steps_replace_the_scale_values():
    args = parse_bench("sustained-rate", "--scale", "full", "--start-rate", "210", "--steps", "1")

    scale = scale_of(args)

    assert scale["start_rate"] == 210
    assert scale["steps"] == 1
    assert scale["window_seconds"] == SCALES["full"]["sustained-rate"]["window_seconds"]
    assert scale_label(args) == "full-from-210-1-steps"


def test_start_rate_rejected_outside_sustained_rate():
    with pytest.raises(BenchError, match="--start-rate applies to sustained-rate only"):
        scale_of(parse_bench("memory", "--start-rate", "100"))


def parse_bench_with_settings(*settings):
    # The global --set belongs to the top-level parser, which parse_bench leaves out.
    args = parse_bench("sustained-rate", "--scale", "full", "--start-rate", "210")
    args.set = list(settings)
    return args


def test_settings_name_the_result_files():
    args = parse_bench_with_settings("ingest.compact_every_batches=5")

    assert stream_overrides(args) == {"ingest.compact_every_batches": "5"}
    assert scale_label(args) == "full-from-210-ingest-compact_every_batches-5"


def test_no_settings_keeps_the_label():
    args = parse_bench_with_settings()

    assert stream_overrides(args) == {}
    assert scale_label(args) == "full-from-210"


@pytest.mark.parametrize("setting", ["lake.root=/tmp/elsewhere", "kafka.topic=other", "broker.port=9092",
                                     "spark.master=local[1]", "spark.conf.spark.master=local[1]",
                                     "spark.conf.spark.sql.warehouse.dir=/tmp/warehouse",
                                     "spark.conf.spark.driver.host=0.0.0.0",
                                     "ingest.trigger_interval_seconds=5"])
def test_placing_settings_rejected(setting):
    args = parse_bench_with_settings("ingest.compact_every_batches=5", setting)

    key = setting.split("=")[0]

    with pytest.raises(BenchError, match=re.escape(f"--set {key}: the bench chooses these itself")):
        stream_overrides(args)


def test_label_replaces_path_characters():
    args = parse_bench_with_settings("billing.issuer=../../etc/x y", "spark.conf.a/b=1")

    assert scale_label(args) == "full-from-210-billing-issuer-.._.._etc_x_y-spark-conf-a_b-1"


def test_overlong_label_rejected():
    args = parse_bench_with_settings("billing.issuer=" + "x" * 200)

    with pytest.raises(BenchError, match="pass fewer or shorter --set values"):
        scale_label(args)


def test_missing_work_dir_is_created(tmp_path):
    work_dir = tmp_path / "not" / "there"

    folder = make_run_folder("faults", work_dir)

    assert folder.parent == work_dir
    assert folder.is_dir()
    assert folder.name.startswith("meterhouse-bench-faults-")


def test_relative_work_dir_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    folder = make_run_folder("faults", Path("relative"))

    assert folder.is_absolute()
    assert folder.parent == tmp_path / "relative"


def test_work_dir_on_a_file_rejected(tmp_path):
    file = tmp_path / "a-file"
    file.write_text("")

    with pytest.raises(BenchError, match="could not create the run folder under --work-dir .*a-file"):
        make_run_folder("faults", file)
