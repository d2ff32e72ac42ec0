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


def test_replace_dir_puts_the_old_artifact_back_when_the_swap_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "old").write_text("old")
    real_replace = os.replace
    calls = []

    def failing_second_rename(src: object, dst: object) -> None:
        calls.append((src, dst))
        if len(calls) == 2:
            raise OSError("disk full")
        real_replace(src, dst)

    with staging_dir(tmp_path) as staging:
        (staging / "m").mkdir()
        (staging / "m" / "new").write_text("new")
        monkeypatch.setattr(os, "replace", failing_second_rename)
        with pytest.raises(OSError, match="disk full"):
            replace_dir(staging / "m", tmp_path / "m", staging)
        monkeypatch.setattr(os, "replace", real_replace)
    assert (tmp_path / "m" / "old").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_atomic_writes_are_readable_by_others(tmp_path: Path) -> None:
    import os
    import stat

    previous = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "config.pbtxt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "config.pbtxt").stat().st_mode) == 0o644  # mkstemp alone gives 0o600


def test_created_dirs_removes_only_what_it_made_when_the_block_fails(tmp_path: Path) -> None:
    from se_deploy.fileio import created_dirs

    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError), created_dirs(tmp_path / "kept" / "a" / "b"):
        raise RuntimeError("failed")
    assert (tmp_path / "kept").is_dir() and not (tmp_path / "kept" / "a").exists()
    with created_dirs(tmp_path / "kept" / "c") as made:
        (made / "f").write_text("x")
    assert (tmp_path / "kept" / "c" / "f").exists()
