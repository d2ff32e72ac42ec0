"""What an export writes beside each ONNX: the facts embedded in the file, se_deploy.json, Triton's config.

``embedded_facts`` travel inside the ONNX (enough to preprocess inputs and rebuild the torch reference);
``metadata_record`` is the repository entry's se_deploy.json; ``triton_config_for`` its config.pbtxt.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any, Protocol

import onnx
import torch
from torch import nn

import se_deploy
from se_deploy.export.random_weights import random_weights_record, statistics_fact
from se_deploy.export.torch_model import DEFAULT_SEED, spec_num_classes
from se_deploy.export.torch_to_onnx import INPUT_NAME, OUTPUT_NAME
from se_deploy.export.verify import Verification
from se_deploy.fileio import sha256_of
from se_deploy.models.checkpoint import WeightsInfo
from se_deploy.models.spec import ModelSpec
from se_deploy.repository import ModelPaths, TensorSpec, parse_triton_config, triton_config

METADATA_SCHEMA = "se-deploy/model-metadata/1"
MAX_BATCH = 64  # the Triton config's max_batch_size, and the runtime API's limit, for dynamic-batch exports


class ExportOptions(Protocol):
    """What the metadata records of the export request (``se_deploy.export.job.ExportRequest`` has it)."""

    @property
    def opset(self) -> int: ...
    @property
    def exporter(self) -> str: ...
    @property
    def batch(self) -> int | None: ...
    @property
    def se_reduction(self) -> int | None: ...


def triton_config_for(name: str, num_classes: int, image_size: int, batch: int | None) -> str:
    batch_dim = batch or -1
    inputs = [TensorSpec(INPUT_NAME, "float32", (batch_dim, 3, image_size, image_size))]
    outputs = [TensorSpec(OUTPUT_NAME, "float32", (batch_dim, num_classes))]
    text = triton_config(name, inputs, outputs, max_batch_size=MAX_BATCH)
    with contextlib.suppress(ImportError):  # without tritonclient the config is written unvalidated
        parse_triton_config(text)  # Triton's own ModelConfig protobuf
    return text


def embedded_facts(
    spec: ModelSpec,
    module: nn.Module,
    image_size: int,
    weights: WeightsInfo | None,
    role: str,
    exported: ModelSpec,
    se_reduction: int | None = None,
) -> dict[str, Any]:
    """What travels inside the ONNX: enough to preprocess inputs and to rebuild the torch reference."""
    source = weights.source if weights and role == "model" else None
    return {
        "model": spec.name,
        "twin": spec.twin,
        "has_se": spec.has_se,
        "num_classes": spec_num_classes(module),
        "image_size": image_size,
        "preprocessing": spec.preprocessing.for_crop(image_size).to_dict(),
        "weights": {
            "source": source,
            "path": weights.path if weights and role == "model" else None,  # absolute
            "sha256": weights.sha256 if weights and role == "model" else None,
        },
        "weights_from": None if role == "model" else exported.name,
        "random_seed": None if weights else DEFAULT_SEED,
        # how random weights are rebuilt (random_weights.py): statistics fitted as recorded, SE width as exported
        "batch_norm_fitted": None if weights else statistics_fact(exported.image_size, DEFAULT_SEED),
        "se_reduction": se_reduction if spec.has_se else None,
        "max_batch": MAX_BATCH,
    }


def metadata_record(
    spec: ModelSpec,
    module: nn.Module,
    role: str,
    request: ExportOptions,
    image_size: int,
    staged: ModelPaths,
    verification: Verification,
    weights: WeightsInfo | None,
    exported_spec: ModelSpec,
) -> dict[str, Any]:
    import onnxruntime
    import onnxscript

    num_classes = spec_num_classes(module)
    batch_dim: int | str = request.batch or "batch"
    if role == "model":
        weights_record = weights.to_dict() if weights else random_weights_record(DEFAULT_SEED)
    else:
        weights_record = {
            "source": f"copied from {exported_spec.name} (layers both share); not a trained network: for latency baselines",
            "from_weights": weights.to_dict() if weights else random_weights_record(DEFAULT_SEED),
        }

    onnx_sha256 = sha256_of(staged.model)
    return {
        "schema": METADATA_SCHEMA,
        "model": spec.name,
        "twin": spec.twin,
        "has_se": spec.has_se,
        "family": spec.family,
        "architecture": spec.architecture,
        "stride_placement": spec.stride_placement,
        "se_reduction": (request.se_reduction or spec.se_reduction) if spec.has_se else None,
        "num_classes": num_classes,
        "params": sum(p.numel() for p in module.parameters()),
        "input": {"name": INPUT_NAME, "dtype": "float32", "shape": [batch_dim, 3, image_size, image_size]},
        "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": [batch_dim, num_classes]},
        "image_size": image_size,
        "preprocessing": spec.preprocessing.for_crop(image_size).to_dict(),
        "onnx": {"path": f"1/{staged.model.name}", "opset": request.opset, "exporter": request.exporter},
        "onnx_sha256": onnx_sha256,
        "weights": weights_record,
        "verification": verification.to_dict(),
        "versions": {
            "se_deploy": se_deploy.__version__,
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxscript": onnxscript.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
