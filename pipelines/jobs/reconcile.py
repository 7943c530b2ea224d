"""spark-submit entry: reconcile counts and quantities layer by layer for a period.

    spark-submit [options] pipelines/jobs/reconcile.py --conf conf/cluster.yaml --period 2026-11

The arguments after ``--conf`` and ``--set`` are those of ``meterhouse reconcile``.
``--month-of DATE`` or ``--previous-month-of DATE`` may replace ``--period``.
"""

import sys

from pipelines.jobs.entry import Job
from pipelines.jobs.periods import add_period_options, period_arguments

JOB = Job(
    name="reconcile",
    command="reconcile",
    module="pipelines.reconciliation.commands",
    summary="Reconcile Kafka, bronze, silver, gold and invoices per tenant for a period.",
    add_options=add_period_options,
    rewrite=period_arguments,
)


def main(argv=None) -> int:
    return JOB.main(argv)


if __name__ == "__main__":
    sys.exit(main())
