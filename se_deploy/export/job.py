"""The ``export`` stage: zoo model (+ twin) -> verified ONNX in the model repository, all or nothing.

Everything is written into a staging directory inside the output directory and verified there;
only when every model passed is each one renamed into place. A failure leaves the repository as it
was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from se_deploy.errors import ExportError, InvalidArgumentError
from se_deploy.export.metadata import embedded_facts, metadata_record, triton_config_for
from se_deploy.export.torch_model import build_model, build_twin, spec_num_classes
from se_deploy.export.torch_to_onnx import export_onnx, validate_export_options
from se_deploy.export.verify import VERIFY_BATCHES_DYNAMIC, Tolerance, Verification, check_onnx, verify_onnx
from se_deploy.fileio import atomic_write_text, created_dirs, replace_dir, staging_dir
from se_deploy.model_metadata import embed_file
from se_deploy.models.registry import get_spec
from se_deploy.models.spec import ModelSpec
from se_deploy.output_guard import REPOSITORY_ENTRY, check_output
from se_deploy.progress import Progress, Step
from se_deploy.repository import ModelPaths


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
            embed_file(
                staged.model,
                embedded_facts(model_spec, module, image_size, weights, role, spec, se_reduction=request.se_reduction),
            )
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
            metadata = metadata_record(
                model_spec, module, role, request, image_size, staged, verification, weights, spec
            )
            atomic_write_text(staged.metadata, json.dumps(metadata, indent=2) + "\n")
            atomic_write_text(
                staged.config, triton_config_for(model_spec.name, spec_num_classes(module), image_size, request.batch)
            )
            exported.append(
                ExportedModel(model_spec.name, role, ModelPaths(output, model_spec.name), verification, metadata)
            )
        progress(Step("moving the verified models into the repository", steps - 1, steps))
        for item in exported:
            replace_dir(ModelPaths(staging, item.name).directory, item.paths.directory, staging)
    notes = weights.notes if weights else ()
    return ExportResult(tuple(exported), tuple(notes))
