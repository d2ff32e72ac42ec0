"""`se-deploy package`: --force replaces only its own repository entries."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tests.cli.helpers import one_line_refusal, run


def test_package_force_replaces_only_its_own_entries(tmp_path: Path, image_onnx: Path) -> None:
    repo = tmp_path / "repo"
    previous = os.umask(0o022)
    try:
        assert run("package", str(image_onnx), "-o", str(repo), "--name", "m")[0] == 0
    finally:
        os.umask(previous)
    for path in (
        repo / "m",
        repo / "m" / "config.pbtxt",
        repo / "m" / "se_deploy.json",
        repo / "m" / "1" / "model.onnx",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == (0o755 if path.is_dir() else 0o644), (
            path
        )  # Triton runs as another user
    marker = json.loads((repo / "m" / "se_deploy.json").read_text())
    assert marker["schema"] == "se-deploy/packaged-model/1" and len(marker["source_sha256"]) == 64
    assert run("package", str(image_onnx), "--output", str(repo), "--name", "m", "--force")[0] == 0
    # re-packaging a model out of the entry being replaced would delete the input
    code, _, stderr = run("package", str(repo / "m" / "1" / "model.onnx"), "-o", str(repo), "--name", "m", "--force")
    one_line_refusal(code, stderr, "holds the input")
    foreign = repo / "other"
    foreign.mkdir()
    (foreign / "config.pbtxt").write_text('name: "other"')
    code, _, stderr = run("package", str(image_onnx), "-o", str(repo), "--name", "other", "--force")
    one_line_refusal(code, stderr, "was not written by se-deploy")
    assert (foreign / "config.pbtxt").read_text() == 'name: "other"'
