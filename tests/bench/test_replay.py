"""The batch replay profiler: reading a checkpoint's offsets and checking its arguments."""

import pytest

from pipelines.bench.replay import main, source_version_after


def test_source_version_from_offsets_file(tmp_path):
    (tmp_path / "offsets").mkdir()
    (tmp_path / "offsets" / "7").write_text(
        'v1\n{"batchWatermarkMs":0,"batchTimestampMs":1}\n'
        '{"sourceVersion":1,"reservoirId":"r","reservoirVersion":137,"index":-1,"isStartingVersion":false}\n')

    assert source_version_after(tmp_path, 7) == 137


def test_batch_ending_inside_a_version_is_refused(tmp_path):
    (tmp_path / "offsets").mkdir()
    (tmp_path / "offsets" / "3").write_text('v1\n{}\n{"reservoirVersion":12,"index":4}\n')

    with pytest.raises(ValueError, match="batch 3 ended inside source version 12 \\(index 4\\)"):
        source_version_after(tmp_path, 3)


@pytest.mark.parametrize("first, last", [(0, 3), (5, 4)])
def test_bad_batch_range_is_refused(tmp_path, capsys, first, last):
    with pytest.raises(SystemExit):
        main(["--lake", str(tmp_path), "--layer", "silver", "--first", str(first), "--last", str(last)])

    assert f"--first must be at least 1 and at most --last, found {first} and {last}" in capsys.readouterr().err
