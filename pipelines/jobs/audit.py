"""spark-submit entry: rebuild issued invoices by time travel, or verify the invoice ledger.

    spark-submit [options] pipelines/jobs/audit.py --conf conf/cluster.yaml ledger

The arguments after ``--conf`` and ``--set`` are those of ``meterhouse audit``.
"""

import sys

from pipelines.jobs.entry import Job

JOB = Job(
    name="audit",
    command="audit",
    module="pipelines.audit.commands",
    summary="Rebuild issued invoices by Delta time travel and compare them with the stored ones.",
)


def main(argv=None) -> int:
    return JOB.main(argv)


if __name__ == "__main__":
    sys.exit(main())
