"""Checkpoint key mapping for BN-Inception (Cadene's flat Caffe names) and Inception-ResNet-v2 (timm/Cadene).

* BN-Inception: Cadene's ``bninception`` names every layer at the top level (``inception_3a_double_3x3_1``,
  ``inception_3a_double_3x3_1_bn``, ``conv1_7x7_s2``, ``last_linear``); the zoo groups them per module
  (``inception_3a.b_double_3x3_1.conv`` / ``.bn``, ``conv1_7x7_s2.conv``, ``fc``).
* Inception-ResNet-v2: timm and Cadene share the zoo's module names; only the classifier differs
  (``classif`` in timm, ``last_linear`` in Cadene, ``fc`` here).
"""

from __future__ import annotations

import re

import torch

from se_deploy.models.spec import AdaptedCheckpoint, ModelSpec

CADENE_FLAT = "cadene"
NATIVE = "native"

_BN_INCEPTION_LAYER = re.compile(
    r"^(?:(?P<stem>conv1_7x7_s2|conv2_3x3_reduce|conv2_3x3)"
    r"|inception_(?P<module>\d[a-e])_(?P<branch>1x1|3x3_reduce|3x3|double_3x3_reduce|double_3x3_1|double_3x3_2|pool_proj))"
    r"(?P<bn>_bn)?\.(?P<param>\w+)$"
)
_CLASSIFIERS = re.compile(r"^(?:last_linear|classif)\.")


def _rename_classifier(key: str) -> str:
    return _CLASSIFIERS.sub("fc.", key)


def bn_inception_checkpoint_filter(
    state_dict: dict[str, torch.Tensor], spec: ModelSpec, source: str
) -> AdaptedCheckpoint:
    """Cadene's flat BN-Inception names onto the zoo's; zoo-layout checkpoints pass through unchanged."""
    del spec, source
    flat = any(_BN_INCEPTION_LAYER.match(key) for key in state_dict)
    if not flat:
        return AdaptedCheckpoint(state_dict, layout=NATIVE)
    renamed = {}
    for key, value in state_dict.items():
        match = _BN_INCEPTION_LAYER.match(key)
        if match:
            layer = match["stem"] or f"inception_{match['module']}.b_{match['branch']}"
            key = f"{layer}.{'bn' if match['bn'] else 'conv'}.{match['param']}"
        renamed[_rename_classifier(key)] = value
    notes = (
        "Cadene's BN-Inception weights expect BGR images in 0-255 minus (104, 117, 128), as the model's "
        "preprocessing records",
    )
    return AdaptedCheckpoint(renamed, layout=CADENE_FLAT, notes=notes)


def inception_resnet_v2_checkpoint_filter(
    state_dict: dict[str, torch.Tensor], spec: ModelSpec, source: str
) -> AdaptedCheckpoint:
    """timm's ``classif`` / Cadene's ``last_linear`` onto ``fc``."""
    del spec, source
    layout = "timm" if any(k.startswith("classif.") for k in state_dict) else NATIVE
    if any(k.startswith("last_linear.") for k in state_dict):
        layout = "cadene"
    return AdaptedCheckpoint({_rename_classifier(k): v for k, v in state_dict.items()}, layout=layout)
