"""torch -> ONNX export, and verification of the ONNX against the torch model with ONNX Runtime.

``export_onnx`` writes one ONNX file; ``verify_onnx`` runs it on fixed random inputs and compares with
torch. The CLI's ``export`` command composes these with the model repository (``export_models``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import onnx
import torch
from torch import nn

from se_deploy.errors import ExportError, InvalidArgumentError

Exporter = Literal["dynamo", "legacy"]
EXPORTERS: tuple[str, ...] = ("dynamo", "legacy")
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
# Opsets each exporter produces reliably; dynamo targets 18+ (it translates to 18 and converts).
OPSET_RANGE: dict[str, tuple[int, int]] = {"dynamo": (18, 23), "legacy": (11, 20)}
VERIFY_BATCHES_DYNAMIC: tuple[int, int] = (1, 7)


@dataclass(frozen=True)
class Tolerance:
    """Outputs match when ``max|onnx - torch| <= atol + rtol * max|torch|``."""

    atol: float = 1e-4
    rtol: float = 1e-3

    def limit(self, reference: np.ndarray) -> float:
        return self.atol + self.rtol * float(np.abs(reference).max(initial=0.0))


@dataclass(frozen=True)
class BatchCheck:
    batch: int
    max_abs_error: float
    max_rel_error: float  # max abs error / max |torch output|
    limit: float
    top1_agreement: float

    @property
    def passed(self) -> bool:
        return self.max_abs_error <= self.limit


@dataclass(frozen=True)
class Verification:
    checks: tuple[BatchCheck, ...]
    tolerance: Tolerance

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def max_abs_error(self) -> float:
        return max(check.max_abs_error for check in self.checks)

    @property
    def max_rel_error(self) -> float:
        return max(check.max_rel_error for check in self.checks)

    def to_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "max_abs_error": self.max_abs_error,
            "max_rel_error": self.max_rel_error,
            "tolerance": asdict(self.tolerance),
            "batches": [asdict(check) | {"passed": check.passed} for check in self.checks],
        }


def validate_export_options(
    *, exporter: str, opset: int, batch: int | None, image_size: int, min_image_size: int
) -> None:
    """Raise InvalidArgumentError for options the export cannot honour, before any work is done."""
    if exporter not in EXPORTERS:
        raise InvalidArgumentError(f"unknown exporter {exporter!r}; choose one of {', '.join(EXPORTERS)}")
    low, high = OPSET_RANGE[exporter]
    if not low <= opset <= high:
        raise InvalidArgumentError(f"opset {opset} is not supported by the {exporter} exporter; use {low}..{high}")
    if batch is not None and batch < 1:
        raise InvalidArgumentError(f"batch must be 'dynamic' or a positive integer, got {batch}")
    if image_size < min_image_size:
        raise InvalidArgumentError(
            f"image size {image_size} is too small for this model: it downsamples 32x and needs at least "
            f"{min_image_size}x{min_image_size} (its default is 224)"
        )
    if image_size > 4096:
        raise InvalidArgumentError(f"image size {image_size} is larger than se-deploy supports (4096)")


def export_onnx(
    model: nn.Module,
    path: Path,
    *,
    image_size: int,
    batch: int | None = None,
    opset: int = 18,
    exporter: Exporter = "dynamo",
) -> None:
    """Export ``model`` (eval mode, BN folded into convs) to ``path``; ``batch=None`` makes batch dynamic."""
    model = model.eval()
    example_batch = batch or 2  # 2, not 1: torch.export would specialise a size-1 dimension
    example = (torch.randn(example_batch, 3, image_size, image_size),)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _quiet_exporter():
            if exporter == "dynamo":
                dynamic_shapes = None if batch else {"x": {0: torch.export.Dim("batch")}}
                program = torch.onnx.export(
                    model,
                    example,
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    opset_version=opset,
                    dynamo=True,
                    dynamic_shapes=dynamic_shapes,
                    verbose=False,
                )
                program.save(str(path), external_data=False)
            else:
                dynamic_axes = None if batch else {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}
                torch.onnx.export(
                    model,
                    example,
                    str(path),
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    opset_version=opset,
                    dynamo=False,
                    dynamic_axes=dynamic_axes,
                    do_constant_folding=True,
                )
    except Exception as exc:  # the exporters raise many types; the user needs the gist and what to try
        if _caused_by_interrupt(exc):
            raise KeyboardInterrupt from None  # torch.export wraps a Ctrl-C into its own error: not an export failure
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        other = "legacy" if exporter == "dynamo" else "dynamo"
        raise ExportError(f"the {exporter} ONNX exporter failed: {detail}. Try --exporter {other}.") from exc


def _caused_by_interrupt(exc: BaseException | None) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


@contextlib.contextmanager
def _quiet_exporter():  # type: ignore[no-untyped-def]
    """The exporters print progress and warnings; library code must not write to the terminal."""
    exporter_logger = logging.getLogger("torch.onnx")
    previous = exporter_logger.level
    exporter_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        exporter_logger.setLevel(previous)


def check_onnx(path: Path) -> onnx.ModelProto:
    """onnx's full checker (including strict shape inference); raises ExportError on failure."""
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"the exported ONNX fails onnx's checker: {str(exc).splitlines()[0]}") from exc
    return onnx.load(str(path))


def verify_onnx(
    path: Path,
    model: nn.Module,
    *,
    image_size: int,
    batches: tuple[int, ...],
    tolerance: Tolerance = Tolerance(),
    seed: int = 0,
) -> Verification:
    """Run the ONNX with ONNX Runtime (CPU) and torch on the same fixed random inputs; compare outputs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    checks = []
    for batch in batches:
        inputs = torch.randn(batch, 3, image_size, image_size, generator=generator)
        with torch.no_grad():
            reference = model.eval()(inputs).numpy()
        (actual,) = session.run([OUTPUT_NAME], {INPUT_NAME: inputs.numpy()})
        if actual.shape != reference.shape:
            raise ExportError(
                f"ONNX output shape {actual.shape} differs from torch's {reference.shape} at batch {batch}"
            )
        error = float(np.abs(actual - reference).max())
        scale = float(np.abs(reference).max(initial=0.0))
        agreement = float((actual.argmax(axis=1) == reference.argmax(axis=1)).mean())
        checks.append(BatchCheck(batch, error, error / scale if scale else 0.0, tolerance.limit(reference), agreement))
    return Verification(tuple(checks), tolerance)
