"""The ``meterhouse`` command line.

Each area registers its own sub-commands through a ``register_commands``
function, so the CLI grows with the packages instead of in one long file.
The CLI prints its results; diagnostics go to the log (stderr).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from pipelines.config import load_settings
from pipelines.errors import MeterhouseError

log = logging.getLogger("pipelines")

# Modules that contribute sub-commands; each defines register_commands(subparsers).
COMMAND_MODULES = (
    "pipelines.runtime.commands",
    "pipelines.load.commands",
    "pipelines.streams.commands",
    "pipelines.billing.commands",
    "pipelines.quality.commands",
    "pipelines.reconciliation.commands",
    "pipelines.exports.commands",
    "pipelines.audit.commands",
    "pipelines.maintenance.commands",
    "pipelines.bench.commands",
    "pipelines.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meterhouse", description="Meter multi-tenant usage from Kafka and bill it.")
    parser.add_argument("--conf", help="environment file (default: $METERHOUSE_CONF or conf/local.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set lake.root=/tmp/lake (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        module = _import_optional(module_name)
        if module is not None:
            module.register_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    handler: Callable = args.handler
    try:
        settings = load_settings(args.conf, parse_overrides(args.set))
        check_plans(settings)
        from pipelines.audit.history import command_tag

        with command_tag(args):
            return int(handler(settings, args) or 0)
    except MeterhouseError as error:
        # The print below is the only user-facing copy of the message, and -v adds the traceback.
        log.debug("%s raised", type(error).__name__, exc_info=True)
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def check_plans(settings) -> None:
    """Validate the plans file at start-up, so a bad price stops every command."""
    from pipelines.billing.plans import load_plans

    load_plans(settings.plans_path, settings.meters)


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            print(f"error: --set expects KEY=VALUE, found {pair!r}", file=sys.stderr)
            raise SystemExit(2)
        overrides[key.strip()] = value
    return overrides


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "great_expectations", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _import_optional(module_name: str):
    import importlib

    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # Only a missing command module is optional; a missing dependency
        # inside an existing module is a real error.
        if error.name is None or not module_name.startswith(error.name):
            raise
        return None


if __name__ == "__main__":
    sys.exit(main())
