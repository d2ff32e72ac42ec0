"""``create_model``: a registered model, with fresh weights or a checkpoint."""

from __future__ import annotations

import os

from torch import nn

from se_deploy.errors import InvalidArgumentError
from se_deploy.models.checkpoint import load_pretrained
from se_deploy.models.registry import get_spec


def create_model(
    name: str,
    pretrained: bool | str | os.PathLike[str] = False,
    *,
    num_classes: int | None = None,
    se_reduction: int | None = None,
    hub_cache_dir: str | os.PathLike[str] | None = None,
) -> nn.Module:
    """Build ``name`` in eval mode; ``pretrained`` is a checkpoint path or ``hf-hub:owner/repo``.

    se-deploy bundles no weights, so ``pretrained=True`` is an error that says where to get some.
    When loading a checkpoint, ``num_classes`` defaults to the checkpoint's classifier size.
    """
    spec = get_spec(name)
    if pretrained is True:
        raise InvalidArgumentError(
            "se-deploy ships no weights. Pass a checkpoint instead: pretrained='path/to/weights.pth' "
            "(or .safetensors), or pretrained='hf-hub:timm/seresnet50.a1_in1k' (online, or in the HF cache)."
        )
    if pretrained is False or pretrained is None:
        return spec.build(num_classes=num_classes, se_reduction=se_reduction).eval()
    model, _info = load_pretrained(
        spec, pretrained, num_classes=num_classes, se_reduction=se_reduction, hub_cache_dir=hub_cache_dir
    )
    return model
