"""The ``se-deploy`` console script: the CLI, with Ctrl-C at any point (start-up imports included) as one line.

Importing the CLI pulls in click and rich (and commands import torch/onnx lazily); a Ctrl-C during
those imports would otherwise end in a traceback. This module imports nothing heavy itself.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from se_deploy.interrupt import EXIT_INTERRUPTED, INTERRUPTED, exit_interrupted


def _interrupted_in_a_callback(unraisable: Any) -> None:
    """A Ctrl-C that lands in a callback (e.g. importlib's module-lock cleanup) is "ignored" by Python, which
    prints a traceback and carries on as if nothing happened. Treat it as the interrupt it is: one line,
    exit 130. Outputs are renamed into place atomically, so none is half-written (a hidden staging folder
    may be left beside the output)."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        sys.stderr.write(INTERRUPTED)
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    _default_unraisable_hook(unraisable)


_default_unraisable_hook = sys.unraisablehook


def main() -> None:
    sys.unraisablehook = _interrupted_in_a_callback
    try:
        from se_deploy.cli import main as cli  # here, not at the top: a Ctrl-C during the CLI's imports is caught

        cli()
    except KeyboardInterrupt:
        exit_interrupted()


if __name__ == "__main__":
    main()
