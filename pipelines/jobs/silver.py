"""spark-submit entry: parse, validate and deduplicate bronze into silver.

    spark-submit [options] pipelines/jobs/silver.py --conf conf/cluster.yaml [--once]

The arguments after ``--conf`` and ``--set`` are those of ``meterhouse stream``.
"""

import sys

from pipelines.jobs.entry import Job

JOB = Job(
    name="silver",
    command="stream",
    module="pipelines.streams.commands",
    fixed_arguments=("--layer", "silver"),
    summary="Run the bronze-to-silver stream; with --once, process what bronze holds now and stop.",
)


def main(argv=None) -> int:
    return JOB.main(argv)


if __name__ == "__main__":
    sys.exit(main())
