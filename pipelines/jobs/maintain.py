"""spark-submit entry: compact and vacuum the Delta tables.

    spark-submit [options] pipelines/jobs/maintain.py --conf conf/cluster.yaml [--retain-days DAYS]

The arguments after ``--conf`` and ``--set`` are those of ``meterhouse maintain``.
"""

import sys

from pipelines.jobs.entry import Job

JOB = Job(
    name="maintain",
    command="maintain",
    module="pipelines.maintenance.commands",
    summary="Run table maintenance (compaction, vacuum) on the lake.",
)


def main(argv=None) -> int:
    return JOB.main(argv)


if __name__ == "__main__":
    sys.exit(main())
