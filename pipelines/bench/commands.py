"""``meterhouse bench SCENARIO``: measured figures and billing exactness, written to results/.

Every scenario starts its own broker on free loopback ports and its own lake
in a fresh temporary folder, checks ``gold.usage_hourly`` (or the monthly
totals) against the generator's ground truth, and writes
``<results>/<scenario>-<scale>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import logging
import re
import shlex
import signal
import sys
import tempfile
from pathlib import Path

from pipelines.bench.environment import BenchEnvironment
from pipelines.bench.errors import BenchError
from pipelines.bench.invoice_batch import invoice_batch
from pipelines.bench.results import BenchResult, write_result
from pipelines.bench.faults import faults
from pipelines.bench.streaming import capacity, memory, scaling, tenant_load
from pipelines.bench.sustained import sustained_rate
from pipelines.cli import parse_overrides
from pipelines.config import PROJECT_ROOT, Settings
from pipelines.errors import MeterhouseError

log = logging.getLogger(__name__)

# Settings that place a run (its own broker, topic, lake, master and trigger) belong
# to the bench. `meterhouse --set` may change any other setting of the streams.
BENCH_OWNED_SETTINGS = ("lake.", "exports.", "broker.", "kafka.", "spark.master", "spark.shuffle_partitions",
                        "spark.conf.spark.master", "spark.conf.spark.sql.shuffle.partitions",
                        "spark.conf.spark.sql.warehouse.dir", "spark.conf.spark.local.dir",
                        "spark.conf.spark.driver.host", "spark.conf.spark.driver.bindAddress",
                        "ingest.trigger_interval_seconds")

# A --set value becomes part of a result file name, so only these characters are kept.
FILE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]")
MAX_LABEL_LENGTH = 150

SCENARIOS = {
    "tenant-load": tenant_load,
    "capacity": capacity,
    "sustained-rate": sustained_rate,
    "faults": faults,
    "scaling": scaling,
    "invoice-batch": invoice_batch,
    "memory": memory,
}

# Per scale: synthetic tenants (tenant-load runs one load per entry), seconds
# of event time at 10 events per tenant per second, and scenario options.
# Rates (start_rate, under_load_rate) are events per second over all tenants.
SCALES = {
    "tiny": {
        # Drain timeouts are upper bounds: a run that catches up sooner stops sooner.
        "tenant-load": {"tenants": [10], "duration_seconds": 60, "speedup": 2.0, "drain_timeout_seconds": 300},
        "capacity": {"tenants": [20], "duration_seconds": 60},
        "faults": {"tenants": [10], "duration_seconds": 60, "batches": 30, "kill_cycles": 1,
                   "under_load_rate": 50, "under_load_seconds": 150, "under_load_warmup_seconds": 30,
                   "drain_timeout_seconds": 120},
        "sustained-rate": {"tenants": [10], "start_rate": 50, "steps": 1, "warmup_seconds": 20,
                           "window_seconds": 30, "drain_timeout_seconds": 240},
        "scaling": {"tenants": [20], "duration_seconds": 60},
        "invoice-batch": {"tenants": [10], "events": 20_000},
        "memory": {"tenants": [20], "duration_seconds": 60, "drain_timeout_seconds": 300},
    },
    "small": {
        "tenant-load": {"tenants": [100], "duration_seconds": 60, "speedup": 1.0, "drain_timeout_seconds": 180},
        "capacity": {"tenants": [100], "duration_seconds": 300},
        "faults": {"tenants": [50], "duration_seconds": 120, "batches": 40, "kill_cycles": 10,
                   "under_load_rate": 200, "under_load_seconds": 240, "under_load_warmup_seconds": 60,
                   "drain_timeout_seconds": 300},
        "sustained-rate": {"tenants": [100], "start_rate": 400, "steps": 3, "warmup_seconds": 60,
                           "window_seconds": 180, "drain_timeout_seconds": 240},
        "scaling": {"tenants": [100], "duration_seconds": 120},
        "invoice-batch": {"tenants": [100], "events": 1_000_000},
        "memory": {"tenants": [100], "duration_seconds": 300, "drain_timeout_seconds": 300},
    },
    "full": {
        # One hour of event time per tenant count, sent as fast as the producer goes: the
        # pipeline sustains less than real time here, so no pacing would compress further.
        "tenant-load": {"tenants": [100, 500, 1000], "duration_seconds": 3600, "speedup": None,
                        "drain_timeout_seconds": 14400},
        "capacity": {"tenants": [1000], "duration_seconds": 300},
        "faults": {"tenants": [200], "duration_seconds": 300, "batches": 60, "kill_cycles": 10,
                   "under_load_rate": 400, "under_load_seconds": 600, "under_load_warmup_seconds": 120,
                   "drain_timeout_seconds": 900},
        # Starts near the small scale's highest sustained rate (542.9 offered from a
        # base of 527.6) and runs it for 10 minutes. The second step offers 1.5× or 0.6×.
        "sustained-rate": {"tenants": [100], "start_rate": 540, "steps": 2, "warmup_seconds": 120,
                           "window_seconds": 600, "drain_timeout_seconds": 600},
        "scaling": {"tenants": [1000], "duration_seconds": 120},
        "invoice-batch": {"tenants": [1000], "events": 10_000_000},
        # 40 tenants offer about 400 events/s, below the 559.6 events/s that 100 tenants
        # sustained for 10 minutes with the silver compaction every 5 batches.
        "memory": {"tenants": [40], "duration_seconds": 1800, "drain_timeout_seconds": 900},
    },
}


def register_commands(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser("bench", help="run a benchmark or fault scenario on a private broker and lake")
    bench.add_argument("scenario", choices=sorted(SCENARIOS), help="which scenario to run")
    bench.add_argument("--scale", choices=sorted(SCALES), default="tiny",
                       help="load size: tiny (a few minutes), small, full (default tiny)")
    bench.add_argument("--results", type=Path, default=PROJECT_ROOT / "results",
                       help="folder for <scenario>-<scale>.json and .md (default results/)")
    bench.add_argument("--work-dir", type=Path, default=None,
                       help="parent folder of the run's broker data and lake, created if missing "
                            "(default: the system temp folder)")
    bench.add_argument("--keep", action="store_true", help="keep the broker data, lake and stream logs afterwards")
    bench.add_argument("--tenants", type=_positive_int, nargs="+", default=None,
                       help="tenant counts to run instead of the scale's (tenant-load runs one load per count, "
                            "the other scenarios take the first)")
    bench.add_argument("--start-rate", type=_positive_int, default=None,
                       help="sustained-rate: events/s of the first step instead of the scale's")
    bench.add_argument("--steps", type=_positive_int, default=None,
                       help="sustained-rate: number of rate steps instead of the scale's")
    bench.set_defaults(handler=run_bench)


def make_run_folder(scenario: str, work_dir: Path | None) -> Path:
    """Create a new folder for one run's broker data and lake, under ``work_dir`` when given.

    The path is made absolute here, because the settings resolve a relative
    lake path against the ``conf/`` folder, not the current one.
    """
    try:
        if work_dir is not None:
            work_dir = work_dir.resolve()
            work_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"meterhouse-bench-{scenario}-", dir=work_dir))
    except OSError as error:
        raise BenchError(f"could not create the run folder under --work-dir {work_dir}: {error}; "
                         "pass a writable folder (it is created if missing)") from error


def run_bench(settings: Settings, args: argparse.Namespace) -> int:
    """Run one scenario and write its result files; return 1 when billing was not exact."""
    command = "meterhouse " + " ".join(shlex.quote(part) for part in sys.argv[1:])
    scale = scale_of(args)
    overrides = stream_overrides(args)
    result = BenchResult(scenario=args.scenario, scale=scale_label(args), command=command)
    folder = make_run_folder(args.scenario, args.work_dir)
    environment = BenchEnvironment(folder, keep_folder=args.keep)
    environment.with_overrides(**overrides)
    sessions = []

    def spark_factory():
        if not sessions:
            from pipelines.session import build_local_session

            # Latencies collect four columns of every bronze record. For an hour at 1,000 tenants
            # that is an estimated 0.9 GiB of Arrow data, close to Spark's default limit of 1 GiB.
            sessions.append(build_local_session(environment.settings, {"spark.driver.maxResultSize": "4g"}))
        return sessions[0]

    log.info("bench %s (%s) in %s", args.scenario, args.scale, folder)
    # SIGTERM (from `timeout`, a scheduler or a user) unwinds like an error, so the
    # broker stops and the figures measured so far are still written.
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        SCENARIOS[args.scenario](spark_factory, environment, scale, result)
    except (MeterhouseError, KeyboardInterrupt) as error:
        result.billing_exact = None
        result.notes.append(f"The run stopped early and its figures are partial: {type(error).__name__}: {error}")
        log.error("bench %s (%s) stopped early: %s", args.scenario, args.scale, error)
    finally:
        if sys.exc_info()[0] is not None and not result.notes:
            # A signal that lands inside a Py4J call comes back as a Py4J error, not as BenchError.
            result.notes.append(f"The run stopped early and its figures are partial: {sys.exc_info()[1]!r}")
        for session in sessions:
            session.stop()
        environment.close()
        json_path, markdown_path = write_result(result, args.results)
    print(markdown_path.read_text(encoding="utf-8"))
    print(f"results: {json_path} and {markdown_path}")
    return 0 if result.billing_exact else 1


def scale_of(args: argparse.Namespace) -> dict:
    """Return the options of the chosen scenario and scale.

    ``--tenants``, ``--start-rate`` and ``--steps`` replace the scale's values.
    """
    scale = dict(SCALES[args.scale][args.scenario])
    if args.tenants:
        if len(set(args.tenants)) < len(args.tenants):
            raise BenchError(f"--tenants lists a count twice ({' '.join(map(str, args.tenants))}); "
                             "each count gets its own lake and topic, so list each once")
        scale["tenants"] = list(args.tenants)
    for option in ("start_rate", "steps"):
        if getattr(args, option) is None:
            continue
        if option not in scale:
            raise BenchError(f"--{option.replace('_', '-')} applies to sustained-rate only, not to {args.scenario}")
        scale[option] = getattr(args, option)
    return scale


def stream_overrides(args: argparse.Namespace) -> dict[str, str]:
    """Return the run's ``meterhouse --set`` overrides, which its streams and sessions use.

    The settings that place the run (lake, broker, topic, master, trigger)
    are the bench's own, so overriding them is an error, not a silent no-op.
    """
    overrides = parse_overrides(getattr(args, "set", None) or [])
    owned = sorted(key for key in overrides if key.startswith(BENCH_OWNED_SETTINGS))
    if owned:
        raise BenchError(f"--set {', '.join(owned)}: the bench chooses these itself for each run "
                         "(its own broker, topic, lake, master and trigger); remove them from the command")
    return overrides


def scale_label(args: argparse.Namespace) -> str:
    """Return the scale's name, followed by the options that replaced its values.

    The label names the result files, so a run with ``--tenants``,
    ``--start-rate``, ``--steps`` or ``meterhouse --set`` does not overwrite
    the result of the whole scale.
    """
    parts = [args.scale]
    if args.tenants:
        parts.append(f"{'-'.join(map(str, args.tenants))}-tenants")
    if args.start_rate is not None:
        parts.append(f"from-{args.start_rate}")
    if args.steps is not None:
        parts.append(f"{args.steps}-steps")
    for key, value in stream_overrides(args).items():
        parts.append(FILE_NAME_UNSAFE.sub("_", f"{key.replace('.', '-')}-{value}"))
    label = "-".join(parts)
    if len(label) > MAX_LABEL_LENGTH:
        raise BenchError(f"the result's file name would be {len(label)} characters long, over the "
                         f"{MAX_LABEL_LENGTH} allowed; pass fewer or shorter --set values")
    return label


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, found {text!r}")
    return value


def _raise_on_sigterm(signal_number: int, frame) -> None:
    raise BenchError(f"terminated by signal {signal_number}")
