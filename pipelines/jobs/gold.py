"""spark-submit entry: aggregate silver into the hourly and daily gold usage tables.

    spark-submit [options] pipelines/jobs/gold.py --conf conf/cluster.yaml [--once]

The arguments after ``--conf`` and ``--set`` are those of ``meterhouse stream``.
"""

import sys

from pipelines.jobs.entry import Job

JOB = Job(
    name="gold",
    command="stream",
    module="pipelines.streams.commands",
    fixed_arguments=("--layer", "gold"),
    summary="Run the silver-to-gold stream; with --once, process what silver holds now and stop.",
)


def main(argv=None) -> int:
    return JOB.main(argv)


if __name__ == "__main__":
    sys.exit(main())
