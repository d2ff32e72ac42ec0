"""se-deploy's facts about a model, carried inside the ONNX file (``metadata_props``).

Every artifact derived from an exported model (fused, stripped, FP16, INT8) keeps them, so a later
stage knows the preprocessing, the source weights and the model name without a side file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx

from se_deploy.preprocessing import IMAGENET_224, Preprocessing

METADATA_KEY = "se_deploy"


def embed(model: onnx.ModelProto, facts: dict[str, Any]) -> None:
    """Store ``facts`` (merged over what the model already carries) as JSON under ``se_deploy``."""
    merged = read(model) | facts
    for prop in list(model.metadata_props):
        if prop.key == METADATA_KEY:
            model.metadata_props.remove(prop)
    model.metadata_props.append(onnx.StringStringEntryProto(key=METADATA_KEY, value=json.dumps(merged, sort_keys=True)))


def read(model: onnx.ModelProto) -> dict[str, Any]:
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            try:
                value = json.loads(prop.value)
            except json.JSONDecodeError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}


def embed_file(path: Path, facts: dict[str, Any]) -> None:
    model = onnx.load(str(path))
    embed(model, facts)
    onnx.save(model, str(path))


def preprocessing_of(model: onnx.ModelProto) -> Preprocessing | None:
    raw = read(model).get("preprocessing")
    if not isinstance(raw, dict):
        return None
    try:
        return Preprocessing.from_dict(raw)
    except (KeyError, TypeError, ValueError):
        return None


def default_preprocessing(model: onnx.ModelProto) -> Preprocessing:
    """ImageNet statistics at the model's input size: the fallback for foreign models."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    size = dims[-1].dim_value if len(dims) == 4 and dims[-1].HasField("dim_value") else 224
    return IMAGENET_224.for_crop(size)
