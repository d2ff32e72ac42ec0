"""The ``inspect`` and ``fuse`` commands' jobs: load an ONNX file, match/fuse/strip, verify, write atomically."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from se_deploy import model_metadata
from se_deploy.errors import ExportError, OutputError, SeDeployError
from se_deploy.fileio import atomic_write
from se_deploy.input_shapes import Shape, resolve_input_shapes
from se_deploy.onnx_compare import ModelComparison, compare_models, random_inputs, session
from se_deploy.onnx_io import load_onnx
from se_deploy.output_guard import ONNX_FILE, check_output
from se_deploy.rewrite.match import MatchReport, find_se_blocks
from se_deploy.rewrite.normalize import normalize
from se_deploy.rewrite.surgery import SurgeryResult, fuse_se, strip_se

_FLOAT16 = onnx.TensorProto.FLOAT16


def inspect_file(path: Path) -> MatchReport:
    return find_se_blocks(normalize(load_onnx(path)).model, residual=True)


@dataclass(frozen=True)
class FuseRequest:
    model: Path
    output: Path
    strip: bool = False
    residual: bool = True
    force: bool = False
    batches: tuple[int, ...] = (1, 3)
    input_shapes: dict[str, Shape] | None = None  # --input-shape; else the model's fixed dims or metadata
    seeds: int = 3


@dataclass(frozen=True)
class FuseOutcome:
    request: FuseRequest
    surgery: SurgeryResult
    comparison: ModelComparison | None  # None for --strip: a stripped model is not equal to its input
    remaining_se_blocks: int
    fused_ops: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": str(self.request.model),
            "output": str(self.request.output),
            "mode": "strip" if self.request.strip else "fuse",
            "residual": self.request.residual and not self.request.strip,
            "se_blocks": [block.to_dict() for block in self.surgery.report.blocks],
            "near_misses": [miss.to_dict() for miss in self.surgery.report.near_misses],
            "normalized": self.surgery.normalized,
            "removed_nodes": self.surgery.removed_nodes,
            "added_nodes": self.surgery.added_nodes,
            "fused_ops": self.fused_ops,
            "remaining_se_blocks": self.remaining_se_blocks,
            "verification": self.comparison.to_dict() if self.comparison else None,
        }


def run_fuse(request: FuseRequest) -> FuseOutcome:
    """Fuse (or strip) every SE block of ``request.model``; verify; write ``request.output`` atomically."""
    check_output(request.output, ONNX_FILE, force=request.force, inputs=[request.model])
    _check_output_dir(request.output)
    model = load_onnx(request.model)
    resolve_input_shapes(model, request.input_shapes)  # refuse an unsized input before any work
    surgery = strip_se(model) if request.strip else fuse_se(model, residual=request.residual)
    if not surgery.report.blocks:
        hint = (
            f" {len(surgery.report.near_misses)} SE-like subgraph(s) failed a check: run `se-deploy inspect` to see why."
            if surgery.report.near_misses
            else ""
        )
        raise SeDeployError(
            f"no SE blocks found in {str(request.model)!r}; nothing to {'strip' if request.strip else 'fuse'}.{hint}"
        )
    result = surgery.model
    try:
        onnx.checker.check_model(result)
    except onnx.checker.ValidationError as exc:
        raise ExportError(
            f"the rewritten model fails onnx's checker ({str(exc).splitlines()[0]}); nothing was written"
        ) from exc

    comparison = None
    if request.strip:
        _check_runs_like(model, result, request.input_shapes)
    else:
        half = any(init.data_type == _FLOAT16 for init in model.graph.initializer)
        tolerance = {"atol": 1e-2, "rtol": 1e-2} if half else {"atol": 1e-4, "rtol": 1e-3}
        comparison = compare_models(
            model,
            result,
            batches=request.batches,
            seeds=request.seeds,
            shapes=request.input_shapes,
            intermediates=True,
            **tolerance,
        )
        if not comparison.passed:
            worst = comparison.worst
            assert worst is not None
            raise ExportError(
                f"the fused model differs from the input model: {worst.kind} {worst.name!r} is off by "
                f"{worst.max_abs_error:.3g} (limit {worst.limit:.3g}, relative {worst.relative_error:.3g}); "
                "nothing was written. Please report this with the model: it is a matcher bug."
            )
    remaining = len(find_se_blocks(result).blocks)
    if request.strip and remaining:
        raise ExportError(f"{remaining} SE blocks remain after stripping; nothing was written")
    model_metadata.embed(result, {"written_by": "se-deploy fuse --strip" if request.strip else "se-deploy fuse"})
    atomic_write(request.output, lambda tmp: onnx.save(result, str(tmp)))
    fused_ops: dict[str, int] = {}
    for node in result.graph.node:
        if node.domain == "se_deploy":
            fused_ops[node.op_type] = fused_ops.get(node.op_type, 0) + 1
    return FuseOutcome(request, surgery, comparison, remaining, fused_ops)


def _passes_checker(model: onnx.ModelProto) -> bool:
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError:
        return False
    return True


def _check_runs_like(
    reference: onnx.ModelProto, candidate: onnx.ModelProto, shapes: dict[str, Shape] | None = None
) -> None:
    """The stripped twin must run and give outputs of the same shapes as the original."""
    feeds = random_inputs(reference, 2, seed=0, shapes=shapes)
    names = [value.name for value in reference.graph.output]
    try:
        want = session(reference).run(names, feeds)
        got = session(candidate).run(names, feeds)
    except Exception as exc:  # ORT raises its own exception types
        raise ExportError(f"the stripped model does not run on ONNX Runtime: {exc}; nothing was written") from exc
    for name, a, b in zip(names, want, got, strict=True):
        if a.shape != b.shape:
            raise ExportError(
                f"output {name!r} changed shape when stripping ({a.shape} -> {b.shape}); nothing was written"
            )


def _check_output_dir(output: Path) -> None:
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"output directory {str(parent)!r} does not exist; create it or choose another -o")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"output directory {str(parent)!r} is not writable; choose another -o")
