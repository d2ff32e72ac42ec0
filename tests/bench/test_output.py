"""bench's output options: -o/--output and --json (a flag), the old --out DIR and --json PATH still accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from se_deploy.bench.output import DEFAULT_FOLDER, resolve_outputs


def test_new_spellings_need_no_note() -> None:
    outputs = resolve_outputs(Path("r"), None, "-")
    assert (outputs.folder, outputs.json_path, outputs.print_json, outputs.notes) == (Path("r"), None, True, ())
    assert resolve_outputs(None, None, None).folder == DEFAULT_FOLDER


def test_old_spellings_work_with_a_deprecation_note() -> None:
    outputs = resolve_outputs(None, Path("old"), "copy.json")
    assert outputs.folder == Path("old") and outputs.json_path == Path("copy.json") and not outputs.print_json
    assert any("--out is deprecated" in n for n in outputs.notes) and any("--json PATH" in n for n in outputs.notes)


def test_two_different_folders_are_refused() -> None:
    with pytest.raises(ValueError, match="give the report folder once"):
        resolve_outputs(Path("a"), Path("b"), None)
