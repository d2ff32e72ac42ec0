"""se-deploy: find, fuse and deploy the Squeeze-and-Excitation blocks of SENets."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "create_model", "list_models", "load", "twin_of"]

# The zoo helpers import torch (seconds): imported on first use, so `se-deploy --help` and the CLI entry
# point (which must catch a Ctrl-C during start-up) stay light.
_ZOO = {"create_model", "list_models", "twin_of"}


def __getattr__(name: str) -> Any:
    if name in _ZOO:
        from se_deploy import models

        return getattr(models, name)
    raise AttributeError(f"module 'se_deploy' has no attribute {name!r}")


def load(path, **options):  # type: ignore[no-untyped-def]
    """Load an engine for inference: see ``se_deploy.serve.runtime.load``."""
    from se_deploy.serve.runtime import load as _load

    return _load(path, **options)
