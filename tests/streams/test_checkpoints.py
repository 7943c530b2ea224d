"""Known checkpoint failures become a CheckpointError that names the layer, the checkpoint and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.errors import CheckpointError
from pipelines.silver.stream import QUERY_NAME as SILVER_QUERY
from pipelines.streams.checkpoints import explain_checkpoint_failure
from pipelines.streams.runner import run_layers_once
from pipelines.tables import checkpoint_path, read_table, table_path
from pipelines.vocabulary import Table
from tests.silver.helpers import bronze_rows, cloud_event
from tests.silver.test_silver_batch import write_bronze

CHECKPOINT = "/lake/_checkpoints/silver_usage_events"


def test_recreated_source_table_explained():
    message = ("[STREAM_FAILED] Query [id = 1] terminated with exception: [DIFFERENT_DELTA_TABLE_READ_BY_STREAMING_"
               "SOURCE] The streaming query was reading from an unexpected Delta table (id = 'd2cc').")

    error = explain_checkpoint_failure(message, "silver", CHECKPOINT)

    assert isinstance(error, CheckpointError)
    assert str(error).startswith(f"the silver stream's checkpoint at {CHECKPOINT} belongs to an earlier table")
    assert "Delete the checkpoint folder" in str(error)


def test_damaged_log_file_named():
    message = (f"java.lang.IllegalStateException: Failed to read log file file:{CHECKPOINT}/offsets/7. "
               "Incomplete log file")

    error = explain_checkpoint_failure(message, "silver", CHECKPOINT)

    assert str(error).startswith(f"checkpoint file file:{CHECKPOINT}/offsets/7 of the silver stream is incomplete")
    assert "Delete the newest files of its offsets and commits folders" in str(error)
    assert f"restore {CHECKPOINT} from a backup" in str(error)


def test_damaged_bronze_file_needs_backup():
    message = "Failed to read log file file:/lake/_checkpoints/bronze_usage_events/commits/3. Incomplete log file"

    error = explain_checkpoint_failure(message, "bronze", "/lake/_checkpoints/bronze_usage_events")

    assert "Restore /lake/_checkpoints/bronze_usage_events from a backup" in str(error)
    assert "not safe for bronze" in str(error)


def test_cut_short_json_explained():
    message = ("[STREAM_FAILED] Query [id = 1] terminated with exception: Unexpected end-of-input in field name "
               "SQLSTATE: XXKST")

    error = explain_checkpoint_failure(message, "gold", "/lake/_checkpoints/gold_usage")

    assert str(error).startswith("a file of the gold stream's checkpoint at /lake/_checkpoints/gold_usage ends in")
    assert "Delete the newest files of its offsets and commits folders" in str(error)


def test_bare_assertion_explained():
    message = "[STREAM_FAILED] Query [id = 1] terminated with exception: assertion failed SQLSTATE: XXKST"

    error = explain_checkpoint_failure(message, "silver", CHECKPOINT)

    assert "commits folder has a batch whose file in the offsets folder is missing" in str(error)


def test_missing_metadata_explained():
    message = "[STREAMING_CHECKPOINT_MISSING_METADATA_FILE] Checkpoint location is in an inconsistent state"

    error = explain_checkpoint_failure(message, "gold", "/lake/_checkpoints/gold_usage")

    assert str(error).startswith("the gold stream's checkpoint at /lake/_checkpoints/gold_usage has batches but no")


def test_other_failure_left_alone():
    assert explain_checkpoint_failure("[DELTA_TABLE_NOT_FOUND] Delta table x doesn't exist", "silver", CHECKPOINT) is None


def silver_event_ids(spark, settings) -> list[str]:
    return sorted(row[0] for row in read_table(spark, settings, Table.SILVER_EVENTS).select("event_id").collect())


def write_two_events(spark, settings) -> None:
    write_bronze(spark, settings, bronze_rows(spark, [cloud_event("e-1"), cloud_event("e-2")]))


@pytest.mark.slow
def test_recreated_bronze_table_stops_silver(spark, settings):
    write_two_events(spark, settings)
    run_layers_once(spark, settings, ["silver"])
    shutil.rmtree(table_path(settings, Table.BRONZE_EVENTS))
    write_two_events(spark, settings)

    with pytest.raises(CheckpointError, match="belongs to an earlier table at its source path"):
        run_layers_once(spark, settings, ["silver"])
    shutil.rmtree(checkpoint_path(settings, SILVER_QUERY))
    runs = run_layers_once(spark, settings, ["silver"])

    assert runs[0].input_rows == 2
    assert silver_event_ids(spark, settings) == ["e-1", "e-2"]
    assert read_table(spark, settings, Table.SILVER_DUPLICATES).count() == 0


def silver_checkpoint_file(spark, settings, folder: str) -> Path:
    """Run silver once over two events and return its checkpoint's file ``folder``/0."""
    write_two_events(spark, settings)
    run_layers_once(spark, settings, ["silver"])
    return Path(checkpoint_path(settings, SILVER_QUERY)) / folder / "0"


@pytest.mark.slow
def test_empty_offsets_file_named(spark, settings):
    offsets = silver_checkpoint_file(spark, settings, "offsets")
    offsets.write_text("")
    offsets.with_name(".0.crc").unlink(missing_ok=True)

    with pytest.raises(CheckpointError, match=f"checkpoint file \\S*{offsets} of the silver stream is incomplete"):
        run_layers_once(spark, settings, ["silver"])
    offsets.unlink()
    with pytest.raises(CheckpointError, match="commits folder has a batch whose file in the offsets folder"):
        run_layers_once(spark, settings, ["silver"])
    commit = offsets.parent.parent / "commits" / "0"
    commit.unlink()
    commit.with_name(".0.crc").unlink()
    run_layers_once(spark, settings, ["silver"])

    assert silver_event_ids(spark, settings) == ["e-1", "e-2"]
    assert read_table(spark, settings, Table.SILVER_DUPLICATES).count() == 0


@pytest.mark.slow
def test_cut_short_commit_explained(spark, settings):
    commit = silver_checkpoint_file(spark, settings, "commits")
    commit.write_text(commit.read_text()[:20])
    commit.with_name(".0.crc").unlink()

    with pytest.raises(CheckpointError, match="ends in the middle of its JSON"):
        run_layers_once(spark, settings, ["silver"])
