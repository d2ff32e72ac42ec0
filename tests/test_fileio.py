from __future__ import annotations

from pathlib import Path

import pytest

from se_deploy.errors import OutputError
from se_deploy.fileio import atomic_write_text, ensure_writable_dir, replace_dir, staging_dir


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_output_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="not a directory"):
        ensure_writable_dir(blocker)
    with pytest.raises(OutputError, match="cannot create output directory"):
        ensure_writable_dir(blocker / "sub")


def test_staging_is_removed_and_replace_moves_old_aside(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "old").write_text("old")
    with staging_dir(tmp_path) as staging:
        (staging / "m").mkdir()
        (staging / "m" / "new").write_text("new")
        replace_dir(staging / "m", tmp_path / "m", staging)
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
