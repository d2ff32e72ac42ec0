"""se-deploy: find, fuse and deploy the Squeeze-and-Excitation blocks of SENets."""

from se_deploy.models import create_model, list_models, twin_of

__version__ = "0.1.0"

__all__ = ["__version__", "create_model", "list_models", "twin_of"]
