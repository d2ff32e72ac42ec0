"""The model zoo: SE networks and their non-SE twins."""

from se_deploy.models.registry import ModelSpec, Preprocessing, create_model, get_spec, list_models, twin_of

__all__ = ["ModelSpec", "Preprocessing", "create_model", "get_spec", "list_models", "twin_of"]
