"""The model registry: one ``ModelSpec`` per name; ``get_spec``, ``list_models``, ``twin_of``.

Every SE model names its non-SE twin (and the twin names it back): the same network, block for
block, with the SE switch off. That pair is how se-deploy measures what SE costs.

Each family module registers its models when it is imported (timm style); ``se_deploy.models``
imports the families, so the registry itself imports none of them (no import cycle).
"""

from __future__ import annotations

import difflib

from se_deploy.errors import InvalidArgumentError, UnknownModelError
from se_deploy.models.spec import ModelSpec

_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    """The spec of ``name``; an unknown name raises with the closest registered names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} Run `se-deploy list-models` to see every model."
        ) from None


def list_models(*, include_tiny: bool = False, family: str | None = None) -> list[str]:
    """Registered model names, SE models followed by their twins, in registration order."""
    families = sorted({spec.family for spec in _REGISTRY.values()})
    if family is not None and family not in families:
        raise InvalidArgumentError(f"unknown family {family!r}; choose one of {', '.join(families)}")
    return [
        spec.name
        for spec in _REGISTRY.values()
        if (include_tiny or not spec.tiny) and (family is None or spec.family == family)
    ]


def twin_of(name: str) -> str:
    """The counterpart of ``name``: the non-SE twin of an SE model, the SE model of a twin."""
    return get_spec(name).twin
