"""spark-submit entry: read the usage topic into bronze.usage_events.

    spark-submit [options] pipelines/jobs/bronze.py --conf conf/cluster.yaml [--once]

The arguments after ``--conf`` and ``--set`` are those of ``meterhouse stream``.
"""

import sys

from pipelines.jobs.entry import Job

JOB = Job(
    name="bronze",
    command="stream",
    module="pipelines.streams.commands",
    fixed_arguments=("--layer", "bronze"),
    summary="Run the Kafka-to-bronze stream; with --once, read what Kafka holds now and stop.",
)


def main(argv=None) -> int:
    return JOB.main(argv)


if __name__ == "__main__":
    sys.exit(main())
