"""Gold times of records: the first gold commit after silver classified them."""

import math

import numpy as np

from pipelines.bench.streaming import first_commit_after


def test_first_commit_strictly_after_each_moment():
    commits = np.array([10.0, 20.0, 30.0])
    moments = np.array([5.0, 10.0, 10.5, 29.9, 30.0, 31.0, math.nan])

    found = first_commit_after(commits, moments)

    np.testing.assert_array_equal(found, [10.0, 20.0, 20.0, 30.0, math.nan, math.nan, math.nan])


def test_no_commit_gives_no_gold_time():
    found = first_commit_after(np.array([]), np.array([1.0, 2.0]))

    assert np.isnan(found).all()
    assert len(found) == 2
