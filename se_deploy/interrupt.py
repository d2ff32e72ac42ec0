"""What a Ctrl-C prints and how it exits: shared by the console script and the CLI's error wrapper.

A leaf: it imports nothing of se-deploy, so ``se_deploy.entry`` can load it before the CLI (and the CLI
can use it without importing the entry point).
"""

from __future__ import annotations

import sys
from typing import NoReturn

INTERRUPTED = "se-deploy: interrupted (Ctrl-C); outputs are written atomically, so nothing was half-written\n"
EXIT_INTERRUPTED = 130


def exit_interrupted() -> NoReturn:
    """Say the run was interrupted (one line on stderr) and exit 130."""
    sys.stderr.write(INTERRUPTED)
    sys.exit(EXIT_INTERRUPTED)
