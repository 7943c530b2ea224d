"""Gold times of records: the first gold commit after silver classified them."""

import argparse
import math

import numpy as np
import pytest

from pipelines.bench.commands import SCALES, register_commands, scale_label, scale_of
from pipelines.bench.errors import BenchError
from pipelines.bench.streaming import first_commit_after


def test_first_commit_strictly_after_each_moment():
    commits = np.array([10.0, 20.0, 30.0])
    moments = np.array([5.0, 10.0, 10.5, 29.9, 30.0, 31.0, math.nan])

    found = first_commit_after(commits, moments)

    np.testing.assert_array_equal(found, [10.0, 20.0, 20.0, 30.0, math.nan, math.nan, math.nan])


def test_no_commit_gives_no_gold_time():
    found = first_commit_after(np.array([]), np.array([1.0, 2.0]))

    assert np.isnan(found).all()
    assert len(found) == 2


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

    assert "expected a whole number of tenants above 0" in capsys.readouterr().err


def test_repeated_tenant_count_is_rejected():
    args = parse_bench("tenant-load", "--tenants", "100", "100")

    with pytest.raises(BenchError, match="lists a count twice"):
        scale_of(args)


def test_tenants_option_names_the_result_files():
    assert scale_label(parse_bench("tenant-load", "--scale", "full", "--tenants", "100", "500")) == "full-100-500-tenants"
    assert scale_label(parse_bench("tenant-load", "--scale", "full")) == "full"
