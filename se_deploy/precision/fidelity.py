"""How far a built engine's outputs are from its FP32 source, on the inputs verification uses.

FP16 conversion can break a model on its own (a detector's score map flips where activations
overflow or cancel), independent of SE fusion. ``build`` measures what it produced, writes the
figures to ``engine.json`` and warns past ``FIDELITY_LIMITS``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import onnx

from se_deploy.input_shapes import Shape, resolve_input_shapes
from se_deploy.onnx_compare import random_inputs, session

# An output element "changed" when it moved by more than this share of the output's largest |value|.
CHANGED_SHARE = 0.1
# Past either limit, the build warns loudly: the engine does not compute the source's function.
FIDELITY_LIMITS = {"worst_relative_error": 0.05, "changed_fraction": 0.001}


_ADVICE = {
    "fp16": "Rebuild with --fp16-mode mixed to keep the offending ops in FP32, or use fp32.",
    "int8": "Calibrate on images like the deployment data (--calib, --calib-samples, --calib-method), or use fp16/fp32.",
}


@dataclass(frozen=True)
class Fidelity:
    max_abs_error: float
    worst_relative_error: float  # max over outputs of max|a - b| / max|a|
    worst_output: str
    changed_fraction: float  # share of output elements off by more than CHANGED_SHARE of their output's range
    top1_agreement_random_inputs: float | None  # 2-D first output only (classifier logits); None otherwise
    input_shapes: dict[str, list[int]]
    seeds: int

    @property
    def within_limits(self) -> bool:
        return (
            self.worst_relative_error <= FIDELITY_LIMITS["worst_relative_error"]
            and self.changed_fraction <= FIDELITY_LIMITS["changed_fraction"]
        )

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"within_limits": self.within_limits, "limits": dict(FIDELITY_LIMITS)}

    def warning(self, precision: str) -> str | None:
        """A one-paragraph warning with the advice for ``precision`` (None within limits)."""
        if self.within_limits:
            return None
        return (
            f"WARNING: the {precision} engine does not reproduce its FP32 source: output {self.worst_output!r} is off by "
            f"{self.worst_relative_error:.1%} of its range and {self.changed_fraction:.2%} of output values moved by more "
            f"than {CHANGED_SHARE:.0%} of it (image-like inputs {self.input_shapes}, {self.seeds} seeds). "
            + _ADVICE.get(precision, "Report this model: an FP32 engine should reproduce its source.")
        )


def measure_fidelity(
    source: onnx.ModelProto,
    engine: onnx.ModelProto,
    *,
    shapes: dict[str, Shape] | None = None,
    batch: int = 2,
    seeds: int = 3,
) -> Fidelity:
    reference, candidate = session(source), session(engine)
    names = [output.name for output in source.graph.output]
    max_abs, worst_rel, worst_name, changed, total = 0.0, 0.0, names[0], 0, 0
    agreements: list[float] = []
    for seed in range(seeds):
        feeds = random_inputs(source, batch, seed, shapes=shapes)
        for name, want, got in zip(names, reference.run(names, feeds), candidate.run(names, feeds), strict=True):
            want64, got64 = np.asarray(want, np.float64), np.asarray(got, np.float64)
            error = np.abs(want64 - got64)
            scale = float(np.abs(want64).max(initial=0.0))
            top = float(error.max(initial=0.0))
            relative = top / scale if scale > 0 else (0.0 if top == 0 else float("inf"))
            max_abs = max(max_abs, top)
            if relative > worst_rel:
                worst_rel, worst_name = relative, name
            changed += int((error > CHANGED_SHARE * scale).sum()) if scale > 0 else int((error > 0).sum())
            total += error.size
            if want64.ndim == 2 and name == names[0]:
                agreements.append(float((want64.argmax(-1) == got64.argmax(-1)).mean()))
    resolved = resolve_input_shapes(source, shapes, batch=batch)
    return Fidelity(
        max_abs_error=max_abs,
        worst_relative_error=worst_rel,
        worst_output=worst_name,
        changed_fraction=changed / total if total else 0.0,
        top1_agreement_random_inputs=float(np.mean(agreements)) if agreements else None,
        input_shapes={k: list(v) for k, v in resolved.items()},
        seeds=seeds,
    )
