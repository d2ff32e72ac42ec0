"""The ``se-deploy`` console script: the CLI, with Ctrl-C at any point (start-up imports included) as one line.

Importing the CLI pulls in click and rich (and commands import torch/onnx lazily); a Ctrl-C during
those imports would otherwise end in a traceback. This module imports nothing heavy itself.
"""

from __future__ import annotations

import sys

INTERRUPTED = "se-deploy: interrupted (Ctrl-C); outputs are written atomically, so nothing was half-written\n"


def main() -> None:
    try:
        from se_deploy.cli import main as cli

        cli()
    except KeyboardInterrupt:
        sys.stderr.write(INTERRUPTED)
        sys.exit(130)


if __name__ == "__main__":
    main()
