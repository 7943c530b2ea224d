"""The live-load runs stop the streams only when every layer is idle, not at a pause in commits."""

import time

from pipelines.bench.faults import gold_commit_after
from pipelines.bench.streaming import QUIET_SECONDS, all_layers_idle


class FakeCheckpoints:
    """Planned (offsets) and committed batch files per layer, as batch id -> mtime."""

    def __init__(self, planned, committed):
        self.planned, self.committed = planned, committed

    def planned_batches(self, layer):
        return self.planned.get(layer, {})

    def committed_batches(self, layer):
        return self.committed.get(layer, {})


def test_running_batch_is_not_idle():
    long_ago = time.time() - 10 * QUIET_SECONDS
    checkpoints = FakeCheckpoints(
        planned={"bronze": {0: long_ago}, "silver": {0: long_ago}, "gold": {0: long_ago, 1: long_ago}},
        committed={"bronze": {0: long_ago}, "silver": {0: long_ago}, "gold": {0: long_ago}})

    assert not all_layers_idle(checkpoints, since=long_ago)


def test_recent_commit_is_not_idle_yet():
    long_ago, now = time.time() - 10 * QUIET_SECONDS, time.time()
    batches = {"bronze": {0: long_ago}, "silver": {0: long_ago}, "gold": {0: now}}

    assert not all_layers_idle(FakeCheckpoints(batches, batches), since=long_ago)


def test_all_committed_and_quiet_is_idle():
    long_ago = time.time() - 10 * QUIET_SECONDS
    batches = {"bronze": {0: long_ago}, "silver": {0: long_ago}, "gold": {0: long_ago}}

    assert all_layers_idle(FakeCheckpoints(batches, batches), since=long_ago)
    assert not all_layers_idle(FakeCheckpoints(batches, batches), since=time.time())


def test_gold_commit_after_follows_layers():
    since = 1000.0
    planned = {"bronze": {0: 990.0, 1: 1001.0}, "silver": {0: 995.0, 1: 1002.0, 2: 1006.0},
               "gold": {0: 1003.0, 1: 1008.0}}
    committed = {"bronze": {0: 994.0, 1: 1005.0}, "silver": {0: 996.0, 1: 1004.0, 2: 1007.0},
                 "gold": {0: 1004.5}}

    # Silver batch 1 started before bronze batch 1 committed, so batch 2 carries it on.
    assert gold_commit_after(FakeCheckpoints(planned, committed), since) is None

    committed["gold"][1] = 1010.0
    assert gold_commit_after(FakeCheckpoints(planned, committed), since) == 1010.0
    assert gold_commit_after(FakeCheckpoints(planned, committed), 1011.0) is None
