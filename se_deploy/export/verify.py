"""Verification of an exported ONNX against its torch model: onnx's checker, then ONNX Runtime vs torch.

``verify_onnx`` runs the ONNX (CPU) and the torch model on the same fixed random inputs and returns a
``Verification`` (per batch: max abs / rel error, top-1 agreement, pass or fail against a ``Tolerance``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from se_deploy.errors import ExportError
from se_deploy.export.torch_to_onnx import INPUT_NAME, OUTPUT_NAME

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
