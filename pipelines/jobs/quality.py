"""spark-submit entry: run the data quality validations.

    spark-submit [options] pipelines/jobs/quality.py --conf conf/cluster.yaml [--table TABLE]

The arguments after ``--conf`` and ``--set`` are those of ``meterhouse quality``.
"""

import sys

from pipelines.jobs.entry import Job

JOB = Job(
    name="quality",
    command="quality",
    module="pipelines.quality.commands",
    summary="Validate silver, gold or invoices with the expectation suites and record the results.",
)


def main(argv=None) -> int:
    return JOB.main(argv)


if __name__ == "__main__":
    sys.exit(main())
