"""spark-submit entry: compute and finalize a billing period's invoices.

    spark-submit [options] pipelines/jobs/invoice.py --conf conf/cluster.yaml --period 2026-11 --finalize

The arguments after ``--conf`` and ``--set`` are those of ``meterhouse
invoice``. A scheduler passes its run date instead of the period:
``--previous-month-of 2026-12-04`` stands for ``--period 2026-11``.
"""

import sys

from pipelines.jobs.entry import Job
from pipelines.jobs.periods import add_period_options, period_arguments

JOB = Job(
    name="invoice",
    command="invoice",
    module="pipelines.billing.commands",
    summary="Compute a period's invoices and, with --finalize, finalize those past the grace period.",
    add_options=add_period_options,
    rewrite=period_arguments,
)


def main(argv=None) -> int:
    return JOB.main(argv)


if __name__ == "__main__":
    sys.exit(main())
