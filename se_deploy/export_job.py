"""The ``export`` job: zoo model (+ twin) -> verified ONNX in the model repository, all or nothing.

Everything is written into a staging directory inside the output directory and verified there;
only when every model passed is each one renamed into place. A failure leaves the repository as it
was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import nn

import se_deploy
from se_deploy.errors import ExportError, InvalidArgumentError
from se_deploy.export import (
    INPUT_NAME,
    OUTPUT_NAME,
    VERIFY_BATCHES_DYNAMIC,
    Tolerance,
    Verification,
    check_onnx,
    export_onnx,
    validate_export_options,
    verify_onnx,
)
from se_deploy.fileio import atomic_write_text, created_dirs, replace_dir, sha256_of, staging_dir
from se_deploy.model_metadata import embed_file
from se_deploy.models.checkpoint import WeightsInfo, load_pretrained
from se_deploy.models.registry import get_spec
from se_deploy.models.spec import ModelSpec
from se_deploy.output_guard import REPOSITORY_ENTRY, check_output
from se_deploy.progress import Step
from se_deploy.repository import ModelPaths, TensorSpec, parse_triton_config, triton_config

METADATA_SCHEMA = "se-deploy/model-metadata/1"
DEFAULT_SEED = 0
MAX_BATCH = 64  # the Triton config's max_batch_size, and the runtime API's limit, for dynamic-batch exports


@dataclass(frozen=True)
class ExportRequest:
    model: str
    output: Path = Path("models")
    weights: str | None = None
    opset: int = 18
    image_size: int | None = None  # None: the model's own input size
    batch: int | None = None  # None: dynamic batch
    exporter: str = "dynamo"
    with_twin: bool = True
    force: bool = False
    num_classes: int | None = None
    se_reduction: int | None = None
    tolerance: Tolerance = field(default_factory=Tolerance)
    hub_cache_dir: str | None = None


@dataclass(frozen=True)
class ExportedModel:
    name: str
    role: str  # "model" or "twin"
    paths: ModelPaths
    verification: Verification
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "onnx": str(self.paths.model),
            "config": str(self.paths.config),
            "metadata": str(self.paths.metadata),
            "verification": self.verification.to_dict(),
            "params": self.metadata["params"],
            "onnx_sha256": self.metadata["onnx_sha256"],
        }


@dataclass(frozen=True)
class ExportResult:
    models: tuple[ExportedModel, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"models": [m.to_dict() for m in self.models], "notes": list(self.notes)}


Progress = Callable[[str], None]


def run_export(request: ExportRequest, progress: Progress = lambda _message: None) -> ExportResult:
    """Export ``request.model`` (and its twin) into ``request.output``; see the module docstring."""
    spec = get_spec(request.model)
    image_size = request.image_size or spec.image_size
    validate_export_options(
        exporter=request.exporter,
        opset=request.opset,
        batch=request.batch,
        image_size=image_size,
        min_image_size=spec.min_image_size,
    )
    for option, value in (("--num-classes", request.num_classes), ("--se-reduction", request.se_reduction)):
        if value is not None and value < 1:
            raise InvalidArgumentError(f"{option} must be at least 1, got {value}")
    names = [spec.name] + ([spec.twin] if request.with_twin else [])
    inputs = [Path(request.weights)] if request.weights and not request.weights.startswith("hf-hub:") else []
    for name in names:
        check_output(request.output / name, REPOSITORY_ENTRY, force=request.force, inputs=inputs, option="--output")
    with created_dirs(request.output) as output:
        return _export(request, spec, image_size, output, progress)


def _export(request: ExportRequest, spec: ModelSpec, image_size: int, output: Path, progress: Progress) -> ExportResult:
    names = [spec.name] + ([spec.twin] if request.with_twin else [])
    steps = 2 + 2 * len(names)  # build, (export, verify) per model, move into place
    progress(Step(f"building {spec.name}" + (f" with weights {request.weights}" if request.weights else ""), 0, steps))
    model, weights = build_model(
        spec,
        request.weights,
        num_classes=request.num_classes,
        se_reduction=request.se_reduction,
        hub_cache_dir=request.hub_cache_dir,
    )
    models: list[tuple[ModelSpec, nn.Module, str]] = [(spec, model, "model")]
    if request.with_twin:
        twin_spec = get_spec(spec.twin)
        models.append((twin_spec, build_twin(twin_spec, model), "twin"))

    exported: list[ExportedModel] = []
    with staging_dir(output) as staging:
        for index, (model_spec, module, role) in enumerate(models):
            staged = ModelPaths(staging, model_spec.name)
            progress(
                Step(
                    f"exporting {model_spec.name} to ONNX ({request.exporter}, opset {request.opset})",
                    1 + 2 * index,
                    steps,
                )
            )
            export_onnx(
                module,
                staged.model,
                image_size=image_size,
                batch=request.batch,
                opset=request.opset,
                exporter=request.exporter,  # type: ignore[arg-type]
            )
            embed_file(staged.model, _embedded_facts(model_spec, module, image_size, weights, role, spec))
            progress(Step(f"checking and verifying {model_spec.name} with ONNX Runtime", 2 + 2 * index, steps))
            check_onnx(staged.model)
            batches = (request.batch,) if request.batch else VERIFY_BATCHES_DYNAMIC
            verification = verify_onnx(
                staged.model, module, image_size=image_size, batches=batches, tolerance=request.tolerance
            )
            if not verification.passed:
                raise ExportError(
                    f"{model_spec.name}: ONNX Runtime output differs from torch beyond tolerance "
                    f"(max abs error {verification.max_abs_error:.3g}, allowed {max(c.limit for c in verification.checks):.3g}); "
                    "nothing was written. Try the other --exporter, or report this as a bug."
                )
            metadata = _metadata(model_spec, module, role, request, image_size, staged, verification, weights, spec)
            atomic_write_text(staged.metadata, json.dumps(metadata, indent=2) + "\n")
            atomic_write_text(
                staged.config, _config_for(model_spec.name, spec_num_classes(module), image_size, request.batch)
            )
            exported.append(
                ExportedModel(model_spec.name, role, ModelPaths(output, model_spec.name), verification, metadata)
            )
        progress(Step("moving the verified models into the repository", steps - 1, steps))
        for item in exported:
            replace_dir(ModelPaths(staging, item.name).directory, item.paths.directory, staging)
    notes = weights.notes if weights else ()
    return ExportResult(tuple(exported), tuple(notes))


def build_model(
    spec: ModelSpec,
    weights: str | None = None,
    *,
    num_classes: int | None = None,
    se_reduction: int | None = None,
    hub_cache_dir: str | None = None,
) -> tuple[nn.Module, WeightsInfo | None]:
    """The PyTorch model ``export`` exports: the checkpoint's weights, or seeded random ones."""
    if weights:
        return load_pretrained(
            spec, weights, num_classes=num_classes, se_reduction=se_reduction, hub_cache_dir=hub_cache_dir
        )
    torch.manual_seed(DEFAULT_SEED)  # reproducible random weights
    return spec.build(num_classes=num_classes, se_reduction=se_reduction).eval(), None


def build_twin(twin_spec: ModelSpec, model: nn.Module) -> nn.Module:
    """The twin with every weight it shares with ``model`` copied over (SE weights stay fresh or dropped)."""
    torch.manual_seed(DEFAULT_SEED)
    twin = twin_spec.build(num_classes=spec_num_classes(model)).eval()
    source = model.state_dict()
    target = twin.state_dict()
    shared = {k: v for k, v in source.items() if k in target and target[k].shape == v.shape}
    twin.load_state_dict(shared, strict=False)
    return twin


def spec_num_classes(model: nn.Module) -> int:
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linear[-1].out_features if linear else 0


def _config_for(name: str, num_classes: int, image_size: int, batch: int | None) -> str:
    batch_dim = batch or -1
    inputs = [TensorSpec(INPUT_NAME, "float32", (batch_dim, 3, image_size, image_size))]
    outputs = [TensorSpec(OUTPUT_NAME, "float32", (batch_dim, num_classes))]
    text = triton_config(name, inputs, outputs, max_batch_size=MAX_BATCH)
    with contextlib.suppress(ImportError):  # without tritonclient the config is written unvalidated
        parse_triton_config(text)  # Triton's own ModelConfig protobuf
    return text


def _embedded_facts(
    spec: ModelSpec, module: nn.Module, image_size: int, weights: WeightsInfo | None, role: str, exported: ModelSpec
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
        "max_batch": MAX_BATCH,
    }


def _metadata(
    spec: ModelSpec,
    module: nn.Module,
    role: str,
    request: ExportRequest,
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
        weights_record = weights.to_dict() if weights else {"source": "random", "seed": DEFAULT_SEED}
    else:
        weights_record = {
            "source": f"copied from {exported_spec.name} (layers both share); not a trained network: for latency baselines",
            "from_weights": weights.to_dict() if weights else {"source": "random", "seed": DEFAULT_SEED},
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
