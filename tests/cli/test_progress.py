"""Long commands show progress on stderr (a bar on a terminal, one line per step on a pipe); --json is quiet."""

from __future__ import annotations

import io
import json
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from se_deploy.cli import main
from se_deploy.cli.progress import terminal_progress
from se_deploy.progress import Step, silent


def test_quiet_reports_nothing() -> None:
    buffer = io.StringIO()
    with terminal_progress(Console(file=buffer), quiet=True) as progress:
        progress("something")
    assert progress is silent and buffer.getvalue() == ""


def test_a_pipe_gets_one_line_per_step_with_the_elapsed_time() -> None:
    buffer = io.StringIO()
    with terminal_progress(Console(file=buffer, force_terminal=False)) as progress:
        progress("exporting")
        progress("exporting")  # repeated: not printed again
        progress(Step("round 1/2", 0, 2))
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].endswith("s] exporting") and lines[1].endswith("round 1/2")


def test_a_terminal_gets_a_bar_that_disappears() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with terminal_progress(console) as progress:
        progress("exporting")
        progress(Step("round 1/2", 1, 2))
    assert "round 1/2" in buffer.getvalue() or "exporting" in buffer.getvalue()


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
