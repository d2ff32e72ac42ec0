"""The model zoo: SE networks and their non-SE twins.

Importing this package imports the families (``zoo``), which register their models.
"""

from se_deploy.models import zoo  # noqa: F401  (registers every family)
from se_deploy.models.factory import create_model
from se_deploy.models.registry import get_spec, list_models, twin_of
from se_deploy.models.spec import ModelSpec
from se_deploy.preprocessing import Preprocessing

__all__ = ["ModelSpec", "Preprocessing", "create_model", "get_spec", "list_models", "twin_of"]
