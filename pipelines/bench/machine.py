"""The machine and software a benchmark ran on, and memory of a process tree.

Every result file records these, because a figure means little without the
cores, memory, load average and versions behind it. Memory is read from
``/proc`` (Linux only), so no extra package is needed.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from pipelines.runtime.jars import JARS_DIR, KAFKA_JAR_SET

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def describe_machine() -> dict:
    """Return cores, total memory in GiB and the 1, 5 and 15 minute load averages now."""
    return {
        "cpu_count": os.cpu_count(),
        "memory_gib": round(_total_memory_bytes() / 2**30, 1),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "platform": platform.platform(),
    }


def describe_versions() -> dict:
    """Return the versions of Python, Java, Spark, Delta, the Kafka client and the broker."""
    versions = {"python": platform.python_version()}
    for package in ("pyspark", "delta-spark", "confluent-kafka", "duckdb", "pandas"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["kafka_broker"] = _kafka_broker_version()
    versions["java"] = _java_version()
    return versions


def tree_memory_bytes(root_pid: int) -> tuple[int, int]:
    """Return the resident and the proportional set size of ``root_pid`` and its descendants, in bytes.

    Both sums read the same list of processes. The resident sum counts pages
    that processes share once per process, so a child forked a moment ago
    briefly adds its parent's whole size. The proportional sum splits shared
    pages among their sharers. A process that exits while it is read counts as
    zero. NOTE: the processes are read one after another, not at one instant,
    so a tree that forks or exits during a read can still give a single
    sample far off its neighbours.
    """
    pids = [root_pid, *_descendants(root_pid)]
    return sum(_rss_bytes(pid) for pid in pids), sum(_pss_bytes(pid) for pid in pids)


def _pss_bytes(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return _rss_bytes(pid)
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return _rss_bytes(pid)


def _descendants(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name in field 2 may contain spaces, so split after its ")".
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, pending = [], [root_pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _rss_bytes(pid: int) -> int:
    try:
        resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0
    return resident_pages * PAGE_SIZE


def _total_memory_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _kafka_broker_version() -> str | None:
    jars = sorted((JARS_DIR / KAFKA_JAR_SET).glob("kafka_2.13-*.jar"))
    return jars[-1].name.removeprefix("kafka_2.13-").removesuffix(".jar") if jars else None


def _java_version() -> str | None:
    try:
        result = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    lines = (result.stderr or result.stdout).splitlines()
    return lines[0].strip() if lines else None
