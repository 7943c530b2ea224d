"""Result files of a benchmark run: ``<scenario>-<scale>.json`` and ``.md``.

The JSON file contains every figure, the machine, the versions and the exact
command. The Markdown file is a short table of the headline figures, which
``docs/benchmarks.md`` links.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipelines.bench.machine import describe_machine, describe_versions

RESULT_FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "scenario", "scale", "command", "started_at", "finished_at", "machine",
                 "load_average_after", "versions", "figures", "headline", "billing_exact")


@dataclass
class BenchResult:
    """Figures of one scenario run; ``headline`` rows become the Markdown table."""

    scenario: str
    scale: str
    command: str
    started_at: str = field(default_factory=lambda: _now())
    machine: dict = field(default_factory=describe_machine)
    figures: dict[str, Any] = field(default_factory=dict)
    headline: list[tuple[str, Any, str]] = field(default_factory=list)
    billing_exact: bool | None = None
    notes: list[str] = field(default_factory=list)

    def add_headline(self, figure: str, value: Any, target: str = "") -> None:
        """Add one row to the Markdown table: the figure, its measured value and its target."""
        self.headline.append((figure, value, target))

    def to_dict(self) -> dict:
        return {
            "format_version": RESULT_FORMAT_VERSION,
            "scenario": self.scenario,
            "scale": self.scale,
            "command": self.command,
            "started_at": self.started_at,
            "finished_at": _now(),
            "machine": self.machine,
            # The machine is shared, so the load at the end shows whether other work ran alongside.
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
            "versions": describe_versions(),
            "billing_exact": self.billing_exact,
            "headline": [{"figure": figure, "value": value, "target": target} for figure, value, target in self.headline],
            "figures": self.figures,
            "notes": self.notes,
        }


def write_result(result: BenchResult, folder: Path) -> tuple[Path, Path]:
    """Write the JSON and Markdown files of ``result`` into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    data = result.to_dict()
    stem = f"{result.scenario}-{result.scale}"
    json_path = folder / f"{stem}.json"
    markdown_path = folder / f"{stem}.md"
    json_path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    markdown_path.write_text(render_markdown(data), encoding="utf-8")
    return json_path, markdown_path


def render_markdown(data: dict) -> str:
    """Render the headline table with the command, machine and versions of a result."""
    machine = data["machine"]
    versions = data["versions"]
    lines = [
        f"# Benchmark: {data['scenario']} ({data['scale']})",
        "",
        f"Command: `{data['command']}`",
        "",
        f"Machine: {machine['cpu_count']} cores, {machine['memory_gib']} GiB, load average "
        f"{' / '.join(str(value) for value in machine['load_average'])} at start and "
        f"{' / '.join(str(value) for value in data['load_average_after'])} at end (1, 5, 15 min). "
        f"Spark {versions.get('pyspark')}, Delta {versions.get('delta-spark')}, Kafka {versions.get('kafka_broker')}, "
        f"Python {versions.get('python')}. Run {data['started_at']} to {data['finished_at']}.",
        "",
        f"Billing exact against the generator's ground truth: **{_verdict(data['billing_exact'])}**",
        "",
        "| figure | measured | target |",
        "|---|---|---|",
        *[f"| {row['figure']} | {_cell(row['value'])} | {row['target']} |" for row in data["headline"]],
    ]
    if data.get("notes"):
        lines += ["", *[f"- {note}" for note in data["notes"]]]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return "none" if value is None else str(value)


def _verdict(exact: bool | None) -> str:
    if exact is None:
        return "not checked"
    return "yes" if exact else "NO"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
