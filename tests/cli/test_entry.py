"""The console script and the `python cli.py` shim: the same CLI; Ctrl-C anywhere is one line and exit 130."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from se_deploy.interrupt import INTERRUPTED
from tests.cli.helpers import ROOT


def test_cli_shim_equals_console_script() -> None:
    shim = subprocess.run([sys.executable, "cli.py", "list-models", "--json"], cwd=ROOT, capture_output=True, text=True)
    assert shim.returncode == 0, shim.stderr
    assert {row["name"] for row in json.loads(shim.stdout)} >= {"se_resnet50", "resnet50"}


def _interrupted_run(trigger: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the console script's entry with a KeyboardInterrupt raised when ``trigger`` is first imported."""
    script = textwrap.dedent(
        f"""
        import sys

        class CtrlC:
            def find_spec(self, name, path=None, target=None):
                if name == {trigger!r}:
                    raise KeyboardInterrupt
                return None

        sys.meta_path.insert(0, CtrlC())
        sys.argv = {["se-deploy", *argv]!r}
        from se_deploy.entry import main
        main()
        """
    )
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("trigger", "argv"),
    [
        ("click", ["list-models"]),  # during start-up: the CLI module's own imports
        ("se_deploy.models.catalog", ["list-models"]),  # inside a command
    ],
)
def test_ctrl_c_anywhere_is_one_line_and_exit_130(trigger: str, argv: list[str]) -> None:
    result = _interrupted_run(trigger, argv)
    assert result.returncode == 130, result.stderr
    assert result.stderr == INTERRUPTED and "Traceback" not in result.stderr


def test_ctrl_c_swallowed_by_a_callback_still_ends_the_run() -> None:
    # Python reports a KeyboardInterrupt raised inside a callback (importlib's module-lock cleanup, a
    # weakref finalizer) as "Exception ignored" and carries on; the entry point turns it into exit 130.
    script = textwrap.dedent(
        """
        import weakref

        import se_deploy.cli

        class Target:
            pass

        def interrupted(_ref):
            raise KeyboardInterrupt

        def command():
            target = Target()
            ref = weakref.ref(target, interrupted)
            del target  # the callback runs here; Python would print "Exception ignored" and go on
            print("carried on")

        se_deploy.cli.main = command
        from se_deploy.entry import main
        main()
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 130 and result.stderr == INTERRUPTED and "carried on" not in result.stdout


def test_help_imports_no_framework() -> None:
    # `se-deploy --help` (and every command's) must stay fast: torch, onnx and friends load inside the commands.
    script = textwrap.dedent(
        """
        import sys

        from se_deploy.cli import main

        for args in (["--help"], *([name, "--help"] for name in main.commands)):
            try:
                main(args, standalone_mode=False)
            except SystemExit:
                pass
        heavy = ("torch", "onnx", "onnxruntime", "onnxscript", "numpy", "PIL")
        print(sorted(name for name in heavy if name in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
