"""Accuracy on a labeled image folder, and fidelity against the PyTorch FP32 model it came from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from se_deploy import model_metadata
from se_deploy.backends.onnxruntime.runner import OnnxRuntimeRunner
from se_deploy.data.images import iterate_batches, scan_image_folder
from se_deploy.data.layout import match_layout
from se_deploy.errors import InvalidArgumentError
from se_deploy.fileio import sha256_of
from se_deploy.models import create_model, get_spec
from se_deploy.onnx_io import load_onnx
from se_deploy.precision.image_input import check_image_input


@dataclass(frozen=True)
class Fidelity:
    """Engine logits vs PyTorch FP32 logits on the same preprocessed images."""

    reference: str
    top1_agreement: float
    max_abs_error: float
    mean_abs_error: float
    cosine: float


@dataclass(frozen=True)
class AccuracyResult:
    path: str
    precision: str
    images: int
    labeled: int
    top1: float | None
    top5: float | None
    fidelity: Fidelity | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    path: Path,
    data: Path,
    *,
    labels_file: Path | None = None,
    batch_size: int = 32,
    limit: int | None = None,
    reference_weights: Path | None = None,
) -> AccuracyResult:
    if batch_size < 1:
        raise InvalidArgumentError(f"--batch-size must be at least 1, got {batch_size}")
    if limit is not None and limit < 1:
        raise InvalidArgumentError(f"--limit must be at least 1, got {limit}")
    runner = OnnxRuntimeRunner(path)
    check_image_input(runner.model, path, purpose="eval")
    _check_classifier_output(runner.model, path)
    notes: list[str] = []
    preprocessing = model_metadata.preprocessing_of(runner.model)
    if preprocessing is None:
        preprocessing = model_metadata.default_preprocessing(runner.model)
        notes.append(f"no se-deploy preprocessing in the model: using ImageNet mean/std at {preprocessing.crop_size}px")
    folder, layout = match_layout(scan_image_folder(data, labels_file=labels_file), num_classes_of(runner.model))
    notes.append(f"data: {layout}")
    images = folder.images[:limit] if limit else folder.images
    reference, reference_note = torch_reference(runner.model, reference_weights)
    if reference_note:
        notes.append(reference_note)

    correct1 = correct5 = labeled = 0
    agree = 0
    max_error = 0.0
    abs_sum = 0.0
    elements = 0
    cosines: list[float] = []
    for batch, labels in iterate_batches(images, preprocessing, batch_size):
        logits = runner.infer(batch)
        known = np.array([label is not None for label in labels])
        if known.any():
            targets = np.array([label for label in labels if label is not None])
            top5 = np.argsort(-logits[known], axis=1, kind="stable")[:, :5]  # ties: lowest index, as argmax
            correct1 += int((top5[:, 0] == targets).sum())
            correct5 += int((top5 == targets[:, None]).any(axis=1).sum())
            labeled += int(known.sum())
        if reference is not None:
            with torch.no_grad():
                want = reference(torch.from_numpy(batch)).numpy().astype(np.float64)
            got = logits.astype(np.float64)
            agree += int((want.argmax(1) == got.argmax(1)).sum())
            difference = np.abs(want - got)
            max_error = max(max_error, float(difference.max()))
            abs_sum += float(difference.sum())
            elements += difference.size
            norms = np.linalg.norm(want, axis=1) * np.linalg.norm(got, axis=1)
            cosines.extend((np.sum(want * got, axis=1) / np.maximum(norms, 1e-12)).tolist())
    fidelity = None
    if reference is not None:
        fidelity = Fidelity(
            reference="pytorch fp32",
            top1_agreement=agree / len(images),
            max_abs_error=max_error,
            mean_abs_error=abs_sum / max(elements, 1),
            cosine=float(np.mean(cosines)),
        )
    precision = runner.description.precision if runner.description else "as stored"
    if labeled == 0:
        notes.append("no labels: pass a folder with class sub-folders or --labels FILE for top-1/top-5")
    return AccuracyResult(
        path=str(path),
        precision=precision,
        images=len(images),
        labeled=labeled,
        top1=correct1 / labeled if labeled else None,
        top5=correct5 / labeled if labeled else None,
        fidelity=fidelity,
        notes=notes,
    )


def check_data_fits(model_path: Path, data: Path, labels_file: Path | None = None) -> str:
    """Refuse, before any long work, an image folder whose class layout cannot match the model; describe it."""
    model = load_onnx(model_path)
    _check_classifier_output(model, model_path)
    _, summary = match_layout(scan_image_folder(data, labels_file=labels_file), num_classes_of(model))
    return summary


def _check_classifier_output(model: Any, path: Path) -> None:
    output = model.graph.output[0]
    dims = output.type.tensor_type.shape.dim
    if output.type.tensor_type.HasField("shape") and len(dims) != 2:
        shape = ", ".join(str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in dims)
        raise InvalidArgumentError(
            f"{str(path)!r} outputs {output.name!r} as [{shape}], not (N, classes) logits: top-1/top-5 need a classifier"
        )


def num_classes_of(model: Any) -> int | None:
    """The classifier size: the ONNX's first output's last dimension, else se-deploy's metadata."""
    dims = model.graph.output[0].type.tensor_type.shape.dim if model.graph.output else []
    if len(dims) == 2 and dims[1].HasField("dim_value") and dims[1].dim_value > 0:
        return int(dims[1].dim_value)
    value = model_metadata.read(model).get("num_classes")
    return int(value) if isinstance(value, int) and value > 0 else None


def torch_reference(model: Any, reference_weights: Path | None) -> tuple[torch.nn.Module | None, str | None]:
    """The PyTorch FP32 model an engine was exported from, rebuilt from its embedded metadata."""
    facts = model_metadata.read(model)
    name = facts.get("model")
    if not name:
        return None, "no se-deploy model name in the engine: fidelity vs PyTorch skipped"
    try:
        get_spec(name)
    except InvalidArgumentError:
        return None, f"model {name!r} is not in this se-deploy's zoo: fidelity vs PyTorch skipped"
    num_classes = facts.get("num_classes")
    if reference_weights is not None:
        if not Path(reference_weights).is_file():
            raise InvalidArgumentError(
                f"--reference-weights {str(reference_weights)!r} does not exist (or is not a file)"
            )
        return create_model(name, pretrained=str(reference_weights), num_classes=num_classes), None
    record = facts.get("weights") or {}
    weights = record.get("path") or record.get("source")
    if weights:
        if not Path(weights).is_file():
            return None, (
                f"the reference weights recorded at export, {weights!r}, are not found from {str(Path.cwd())!r}: "
                "fidelity vs PyTorch skipped; pass --reference-weights FILE"
            )
        recorded = record.get("sha256")
        if recorded and sha256_of(Path(weights)) != recorded:
            return None, (
                f"the reference weights {weights!r} changed since export (sha256 differs from the recorded "
                f"{recorded[:12]}...): fidelity vs PyTorch skipped; pass --reference-weights FILE to compare anyway"
            )
        return create_model(name, pretrained=weights, num_classes=num_classes), None
    if facts.get("random_seed") is not None and not facts.get("weights_from"):
        from se_deploy.export.torch_model import random_model

        # the export's own random weights; exports before BatchNorm fitting record no batch_norm_fitted
        fitted = facts.get("batch_norm_fitted")
        model = random_model(
            get_spec(name),
            seed=int(facts["random_seed"]),
            num_classes=num_classes,
            se_reduction=facts.get("se_reduction"),
            statistics=fitted if isinstance(fitted, dict) else None,
            fit_statistics=bool(fitted),
        )
        return model, None
    return None, "the engine's weights cannot be rebuilt in PyTorch: pass --reference-weights for fidelity"
