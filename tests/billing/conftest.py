"""Billing tests read Delta logs of a handful of commits; 2 partitions are plenty."""

import pytest


@pytest.fixture(autouse=True)
def small_delta_snapshots(request):
    if "spark" not in request.fixturenames:
        yield
        return
    spark = request.getfixturevalue("spark")
    previous = spark.conf.get("spark.databricks.delta.snapshotPartitions", None)
    spark.conf.set("spark.databricks.delta.snapshotPartitions", "2")
    yield
    if previous is None:
        spark.conf.unset("spark.databricks.delta.snapshotPartitions")
    else:
        spark.conf.set("spark.databricks.delta.snapshotPartitions", previous)
