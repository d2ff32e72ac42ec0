"""Checkpoint key mapping for (SE-)ResNets: the public layouts onto the zoo's module names.

Layouts seen in the wild:

* ``torchvision`` - torchvision ``resnet*``, timm ``resnet*``/``seresnet*`` and se-deploy itself:
  ``conv1``, ``layer1.0.se.fc1``, ``fc``. Already the zoo's names. torchvision and timm train with
  the stride on the 3x3 conv, so their weights belong in the ``*_tv`` models.
* ``cadene`` - Cadene ``pretrainedmodels`` and timm ``legacy_seresnet*``/``legacy_seresnext*``/
  ``legacy_senet154`` (the SENet authors' Caffe weights): ``layer0.conv1``, ``layer1.0.se_module.fc1``,
  ``last_linear``. Ceil-mode stem pool (and, for SE-ResNet, the stride on the first 1x1 conv), so they
  belong in the Caffe-layout models (``se_resnet50``, ``se_resnext50_32x4d``, ``senet154``...).
"""

from __future__ import annotations

import re

import torch

from se_deploy.errors import WeightsError
from se_deploy.models.spec import AdaptedCheckpoint, ModelSpec
from se_deploy.models.timm_names import timm_architecture

CADENE = "cadene"
TORCHVISION = "torchvision"

_CADENE_RENAMES: tuple[tuple[re.Pattern[str], str], ...] = (
    # layer0.conv1/bn1 (7x7 stem) and, for SENet-154's 3x3 stem, layer0.conv2..3/bn2..3.
    (re.compile(r"^layer0\.((?:conv|bn)\d)\."), r"\1."),
    (re.compile(r"\.se_module\."), ".se."),
    (re.compile(r"^last_linear\."), "fc."),
)
# Placement each layout's published weights were trained with.
_LAYOUT_PLACEMENT = {CADENE: "caffe", TORCHVISION: "torchvision"}


def detect_layout(state_dict: dict[str, torch.Tensor]) -> str:
    keys = list(state_dict)
    if any(k.startswith(("layer0.", "last_linear.")) or ".se_module." in k for k in keys):
        return CADENE
    return TORCHVISION


def rename_cadene_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    renamed = {}
    for key, value in state_dict.items():
        for pattern, replacement in _CADENE_RENAMES:
            key = pattern.sub(replacement, key)
        renamed[key] = value
    return renamed


def _hub_placement(source: str) -> str | None:
    """Placement implied by a timm hub repository name, when it implies one."""
    architecture = timm_architecture(source)
    if architecture is None:
        return None
    if architecture.startswith("legacy_"):
        return "caffe"
    if architecture.startswith(("seresnet", "resnet", "seresnext", "resnext")):
        return "torchvision"
    return None


def _counterpart(spec: ModelSpec, placement: str) -> str:
    base = spec.name.removesuffix("_tv")
    return base if placement == "caffe" else f"{base}_tv"


def resnet_checkpoint_filter(state_dict: dict[str, torch.Tensor], spec: ModelSpec, source: str) -> AdaptedCheckpoint:
    """Rename ``state_dict`` to the zoo's names; refuse weights trained with the other stride placement."""
    layout = detect_layout(state_dict)
    if layout == CADENE:
        state_dict = rename_cadene_keys(state_dict)
    known_placement = _hub_placement(source) or (_LAYOUT_PLACEMENT[CADENE] if layout == CADENE else None)
    expected = spec.weights_layout or spec.stride_placement
    notes: list[str] = []
    if known_placement and expected and known_placement != expected and not spec.tiny:
        raise WeightsError(
            f"weights {source!r} come from {known_placement}-style training (stride placement and stem pooling) but "
            f"{spec.name} is the {expected}-style network; the outputs would be wrong. "
            f"Use --model {_counterpart(spec, known_placement)} instead."
        )
    if layout == TORCHVISION and known_placement is None and expected == "caffe" and not spec.tiny:
        notes.append(
            "torchvision/timm-style key names: torchvision resnet* and timm seresnet* weights are trained with the "
            f"stride on the 3x3 conv; if these are such weights, use --model {_counterpart(spec, 'torchvision')}"
        )
    return AdaptedCheckpoint(state_dict, layout=layout, notes=tuple(notes))
