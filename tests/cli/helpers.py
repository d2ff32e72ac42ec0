"""Drive the CLI in-process (click's runner) and check what a refused command left behind."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from se_deploy.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: the test fails with it
    return result.exit_code, result.stdout, result.stderr


def one_line_refusal(code: int, stderr: str, message: str) -> None:
    assert code == 1, stderr
    assert message in " ".join(stderr.split()), stderr
    assert "Traceback" not in stderr


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
