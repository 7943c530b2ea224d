"""Result files: JSON with the machine, versions and command; a Markdown table."""

import json

from pipelines.bench.environment import parse_stream_summary
from pipelines.bench.results import REQUIRED_KEYS, BenchResult, write_result


def test_result_files_carry_machine_versions_and_command(tmp_path):
    result = BenchResult(scenario="capacity", scale="tiny", command="meterhouse bench capacity --scale tiny")
    result.figures["stages"] = {"bronze": {"rows_per_second": 1234.5}}
    result.add_headline("bronze alone, input rows/s", 1234.5, "≥ 250,000")
    result.billing_exact = True

    json_path, markdown_path = write_result(result, tmp_path)
    data = json.loads(json_path.read_text())
    markdown = markdown_path.read_text()

    assert json_path.name == "capacity-tiny.json"
    assert markdown_path.name == "capacity-tiny.md"
    assert [key for key in REQUIRED_KEYS if key not in data] == []
    assert data["command"] == "meterhouse bench capacity --scale tiny"
    assert data["machine"]["cpu_count"] >= 1
    assert len(data["machine"]["load_average"]) == 3
    assert data["versions"]["pyspark"] == "4.2.0"
    assert data["figures"]["stages"]["bronze"]["rows_per_second"] == 1234.5
    assert "| bronze alone, input rows/s | 1234.5 | ≥ 250,000 |" in markdown
    assert "`meterhouse bench capacity --scale tiny`" in markdown
    assert "Billing exact against the generator's ground truth: **yes**" in markdown


def test_unchecked_billing_says_so(tmp_path):
    result = BenchResult(scenario="memory", scale="tiny", command="meterhouse bench memory")

    _, markdown_path = write_result(result, tmp_path)

    assert "**not checked**" in markdown_path.read_text()


def test_missing_figure_reads_none(tmp_path):
    result = BenchResult(scenario="sustained-rate", scale="tiny", command="meterhouse bench sustained-rate")
    result.add_headline("highest offered rate with flat end-to-end lag, events/s", None, "≥ 40,000")

    _, markdown_path = write_result(result, tmp_path)

    assert "| highest offered rate with flat end-to-end lag, events/s | none | ≥ 40,000 |" in markdown_path.read_text()


def test_stream_summary_lines_are_parsed():
    output = ("bronze      3 batches       6120 rows     12.5 s        490 rows/s\n"
              "some log line\n"
              "gold        2 batches       6000 rows      8.0 s        750 rows/s\n")

    runs = parse_stream_summary(output)

    assert runs == [
        {"layer": "bronze", "batches": 3, "input_rows": 6120, "seconds": 12.5, "rows_per_second": 490.0},
        {"layer": "gold", "batches": 2, "input_rows": 6000, "seconds": 8.0, "rows_per_second": 750.0},
    ]
