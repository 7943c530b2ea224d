"""spark-submit entry: write the finance exports.

    spark-submit [options] pipelines/jobs/export.py --conf conf/cluster.yaml --period 2026-11

The arguments after ``--conf`` and ``--set`` are those of ``meterhouse export``.
``--month-of DATE`` or ``--previous-month-of DATE`` may replace ``--period``.
"""

import sys

from pipelines.jobs.entry import Job
from pipelines.jobs.periods import add_period_options, period_arguments

JOB = Job(
    name="export",
    command="export",
    module="pipelines.exports.commands",
    summary="Export a period for finance as CSV and Parquet with a manifest.",
    add_options=add_period_options,
    rewrite=period_arguments,
)


def main(argv=None) -> int:
    return JOB.main(argv)


if __name__ == "__main__":
    sys.exit(main())
