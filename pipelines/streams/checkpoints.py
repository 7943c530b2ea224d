"""Clear errors for streaming checkpoints that are damaged or no longer match the lake.

Spark reports these cases as a long Java stack trace whose fix, if any, is
generic. The stream commands turn the known ones into a CheckpointError that
names the layer, the checkpoint and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from pipelines.errors import CheckpointError

# Spark's HDFSMetadataLog raises "Failed to read log file <path>. <reason>"
# for an offsets or commits file that is empty, cut short or not JSON.
DAMAGED_FILE = re.compile(r"Failed to read log file (\S+?)\.(?:\s|$)")


@contextmanager
def explained_checkpoint_failures(layer: str, checkpoint: str) -> Iterator[None]:
    """Re-raise a known checkpoint failure of the ``layer`` stream as a CheckpointError."""
    try:
        yield
    except Exception as error:
        explained = explain_checkpoint_failure(str(error), layer, checkpoint)
        if explained is None:
            raise
        raise explained from error


def explain_checkpoint_failure(message: str, layer: str, checkpoint: str) -> CheckpointError | None:
    """Return a CheckpointError for a Spark failure ``message`` about a checkpoint, else None."""
    if "DIFFERENT_DELTA_TABLE_READ_BY_STREAMING_SOURCE" in message:
        return CheckpointError(
            f"the {layer} stream's checkpoint at {checkpoint} belongs to an earlier table at its source path: "
            "the source table was deleted and created again since. Delete the checkpoint folder so that the "
            "stream reads the new table from its start. Silver writes each event and each Kafka record once, "
            "and gold recomputes the windows it touches, so nothing is counted twice.")

    damaged = DAMAGED_FILE.search(message)
    if damaged:
        return CheckpointError(
            f"checkpoint file {damaged.group(1)} of the {layer} stream is incomplete or unreadable, for example "
            f"after a full disk or a storage failure. {_repair_advice(layer, checkpoint)}")

    if "terminated with exception: Unexpected end-of-input" in message:
        # Jackson's wording for JSON that stops early. Spark does not name the file here.
        return CheckpointError(
            f"a file of the {layer} stream's checkpoint at {checkpoint} ends in the middle of its JSON, for example "
            "after a full disk or a storage failure. The files of its offsets and commits folders are text, and "
            f"the damaged one has a cut-off last line. {_repair_advice(layer, checkpoint)}")

    if "terminated with exception: assertion failed" in message:
        return CheckpointError(
            f"the {layer} stream failed Spark's bare 'assertion failed' check on its checkpoint at {checkpoint}. "
            "One known cause: the commits folder has a batch whose file in the offsets folder is missing. "
            f"{_repair_advice(layer, checkpoint)}")

    if "STREAMING_CHECKPOINT_MISSING_METADATA_FILE" in message:
        return CheckpointError(
            f"the {layer} stream's checkpoint at {checkpoint} has batches but no metadata file, which contains "
            "the query's id. Restore the checkpoint folder from a backup. Deleting the folder also works for "
            "silver and gold, which then reprocess their whole source without counting anything twice. For "
            "bronze it would append the records Kafka still retains a second time.")
    return None


def _repair_advice(layer: str, checkpoint: str) -> str:
    if layer == "bronze":
        # Delta's streaming sink records the batch ids it has written in the
        # table and skips them when they come again, whatever their offsets.
        return (f"Restore {checkpoint} from a backup. Deleting checkpoint files is not safe for bronze: a batch "
                "planned again under a number the Delta sink has already written is skipped, with its records.")
    return ("Delete the newest files of its offsets and commits folders, from the damaged one on (on a local "
            "disk with their hidden .crc files), so that Spark plans and writes those batches again: silver and "
            f"gold write a batch again without counting anything twice. Otherwise restore {checkpoint} from a backup.")
