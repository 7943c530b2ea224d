"""Run a job from Databricks notebook widgets (task parameters).

A notebook reads its widgets and passes them here, so the notebook contains no
logic and a notebook task accepts exactly the parameters of the matching
``spark-submit`` entry. Widget names map to arguments as follows:

- ``conf`` is the environment file (``--conf``);
- a name with a dot is a setting override: ``lake.root`` becomes
  ``--set lake.root=VALUE``;
- any other name is the job option with dashes for underscores: ``grace_hours``
  becomes ``--grace-hours VALUE``. A flag takes ``true`` or ``false``, and a
  repeatable option takes a comma-separated list;
- ``arguments`` contains positional arguments and the options that follow
  them, split like a shell command line and placed last: ``ledger`` or
  ``tenant acme --period 2026-11`` for ``audit``;
- an empty value is left out, so a declared but unused widget changes nothing.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Mapping

from pipelines.errors import MeterhouseError
from pipelines.jobs.entry import Job

TRUE_VALUES = ("true", "yes", "1")
FALSE_VALUES = ("false", "no", "0", "")
POSITIONAL_WIDGET = "arguments"


class JobFailedError(MeterhouseError):
    """A job run from a notebook exited with a non-zero code."""


def widget_arguments(job: Job, widgets: Mapping[str, str]) -> list[str]:
    """Return the job arguments that ``widgets`` stand for.

    Raises ``JobFailedError`` listing every widget that matches no option of
    ``job`` or has an invalid flag value, with the valid names.
    """
    actions = _options_by_name(job)
    arguments: list[str] = []
    trailing_arguments: list[str] = []
    problems: list[str] = []
    for name, raw_value in sorted(widgets.items()):
        value = str(raw_value).strip()
        if name == POSITIONAL_WIDGET:
            trailing_arguments = shlex.split(value)
            continue
        if "." in name:
            if value:
                arguments += ["--set", f"{name}={value}"]
            continue
        action = actions.get(name)
        if action is None:
            problems.append(f"widget {name!r} matches no option of job {job.name!r}")
            continue
        option = action.option_strings[-1]
        if action.nargs == 0:
            if value.lower() not in TRUE_VALUES + FALSE_VALUES:
                problems.append(f"widget {name!r} is a flag and takes true or false, found {value!r}")
            elif value.lower() in TRUE_VALUES:
                arguments.append(option)
        elif isinstance(action, argparse._AppendAction):
            for item in filter(None, (part.strip() for part in value.split(","))):
                arguments += [option, item]
        elif value:
            arguments += [option, value]
    if problems:
        valid = ", ".join(sorted([*actions, POSITIONAL_WIDGET])) + ", or a setting such as lake.root"
        raise JobFailedError("invalid notebook parameters:\n" + "\n".join(f"  - {problem}" for problem in problems)
                             + f"\nvalid names: {valid}")
    return arguments + trailing_arguments


def run_job_from_widgets(job: Job, widgets: Mapping[str, str]) -> None:
    """Run ``job`` with the arguments that ``widgets`` stand for.

    Raises ``JobFailedError`` when the job exits with a non-zero code, so that
    the notebook task fails instead of finishing as a success.
    """
    arguments = widget_arguments(job, widgets)
    try:
        exit_code = job.main(arguments)
    except SystemExit as error:
        exit_code = error.code if isinstance(error.code, int) else 2
    if exit_code != 0:
        raise JobFailedError(f"job {job.name!r} exited with code {exit_code}; arguments: {' '.join(arguments)} "
                             "(the log above has the cause)")


def _options_by_name(job: Job) -> dict[str, argparse.Action]:
    parsers = (job.entry_parser(), job.command_parser())
    fixed = set(job.fixed_arguments)
    actions = {}
    for parser in parsers:
        for action in parser._actions:
            long_options = [option for option in action.option_strings if option.startswith("--")]
            if not long_options or action.dest == "help" or fixed.intersection(action.option_strings):
                continue
            actions[long_options[-1][2:].replace("-", "_")] = action
    return actions
