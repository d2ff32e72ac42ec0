"""Long commands show progress on stderr (one line per step when stderr is not a terminal); --json is quiet."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from se_deploy.cli import main


def test_export_and_build_report_their_steps_on_stderr_and_are_quiet_with_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["export", "--model", "resnet_tiny", "--no-twin", "--output", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    assert "s] exporting resnet_tiny to ONNX" in result.stderr
    assert "s] checking and verifying resnet_tiny" in result.stderr
    model = str(tmp_path / "m" / "resnet_tiny" / "1" / "model.onnx")
    build = CliRunner().invoke(main, ["build", model, "-o", str(tmp_path / "e1")])
    assert build.exit_code == 0, build.output
    assert "s] checking the engine runs" in build.stderr
    quiet = CliRunner().invoke(main, ["build", model, "-o", str(tmp_path / "e2"), "--json"])
    assert quiet.exit_code == 0, quiet.output
    assert "checking the engine runs" not in quiet.stderr
    json.loads(quiet.stdout)


def test_list_models_json_is_quiet_and_complete() -> None:
    result = CliRunner().invoke(main, ["list-models", "--all", "--json"])
    assert result.exit_code == 0 and result.stderr == ""
    assert len(json.loads(result.stdout)) > 50
