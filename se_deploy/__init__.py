"""se-deploy: find, fuse and deploy the Squeeze-and-Excitation blocks of SENets."""

from se_deploy.models import create_model, list_models, twin_of


def load(path, **options):  # type: ignore[no-untyped-def]
    """Load an engine for inference: see ``se_deploy.serve.runtime.load``."""
    from se_deploy.serve.runtime import load as _load

    return _load(path, **options)


__version__ = "0.1.0"

__all__ = ["__version__", "create_model", "list_models", "load", "twin_of"]
