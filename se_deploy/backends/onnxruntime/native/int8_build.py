"""Build the SE-native graph of an INT8 engine: ORT's optimized Q/DQ graph at batch 1, SE gates folded (int8_fold.py).

One graph, batch 1: the gate rides in conv3's per-channel requantization scale, which holds one gate per
channel, so larger batches run as batch-1 pieces (``NativeSession`` splits them; with the batch-parallel
plan each core runs its slice's pieces on one thread). Pieces, not the portable graph, for batches > 1:
the folded graph rounds differently from the portable one, and an image must get the same answer
whatever batch a server (Triton's dynamic batcher) puts it in. Verified against the FP32 source and stock
INT8 (``verify_int8``); a graph that fails raises, and the build keeps the portable engine with the reason.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from se_deploy.backends.onnxruntime.native.build import NativeBuild, NativeVerificationError
from se_deploy.backends.onnxruntime.native.int8_fold import FOLD_TARGET, fold_quantized_gates
from se_deploy.backends.onnxruntime.native.optimize import fix_batch, optimize_with_ort
from se_deploy.backends.onnxruntime.native.platform import current_platform
from se_deploy.backends.onnxruntime.native.rewrite import BlockOutcome
from se_deploy.backends.onnxruntime.native.session import session_options
from se_deploy.backends.onnxruntime.native.shared_weights import share_weights
from se_deploy.backends.onnxruntime.native.verify import NativeVerification, compare_logits
from se_deploy.image_like import image_like_inputs
from se_deploy.onnx_compare import batch_is_dynamic

KIND = "int8-fold"
MAX_RELATIVE_ERROR_VS_STOCK = 0.25  # per sample; the trained digits model: 9%, SE-ResNet-50 (random): 2%
VERIFY_SAMPLES = 8  # seeds 0..7: verify_written re-checks seed 7 on the engine as written


def int8_unavailable_reason(model: onnx.ModelProto) -> str | None:
    """Why no INT8 SE-native graph can be built for the Q/DQ ``model`` (None: it can be tried)."""
    dims = model.graph.input[0].type.tensor_type.shape.dim if model.graph.input else []
    if len(model.graph.input) != 1 or len(dims) != 4 or not all(d.HasField("dim_value") for d in dims[1:]):
        return "the model does not have one 4-D image input with a fixed C, H, W"
    if not batch_is_dynamic(model) and dims[0].dim_value != 1:
        return f"the model has a fixed batch of {dims[0].dim_value}; the INT8 gate fold runs at batch 1"
    return None


def verify_int8(
    source: onnx.ModelProto, model: onnx.ModelProto, folded: onnx.ModelProto
) -> tuple[NativeVerification, str]:
    """The folded graph against stock INT8 and the FP32 source: no further from the source than stock INT8.

    Folding moves INT8 roundings, so the folded graph differs from stock INT8 by about INT8's own error;
    a wrong fold (a gate lost or applied twice) moves the logits by far more. Passes when its error vs the
    FP32 source is at most 1.5x stock INT8's (+1% of the logit range), its top-1 agreement with the source
    at most 2 of 8 samples below stock's, and it stays within 25% of the logit range of stock INT8 with at
    most 2 of 8 top-1 answers changed. The verification's ``max_relative_error`` is vs stock INT8.
    """
    import onnxruntime as ort

    def session(m: onnx.ModelProto, optimize: bool) -> Any:
        return ort.InferenceSession(
            m.SerializeToString(), session_options(optimize=optimize), providers=["CPUExecutionProvider"]
        )

    sessions = [session(source, True), session(model, True), session(folded, False)]
    name = model.graph.input[0].name
    shape = (1, *(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]))
    runs: list[list[np.ndarray]] = [[], [], []]
    for seed in range(VERIFY_SAMPLES):
        feeds = {name: image_like_inputs(shape, seed)}
        for outputs, s in zip(runs, sessions, strict=True):
            outputs.append(np.asarray(s.run(None, feeds)[0], np.float64))
    fp32, stock, native = (np.concatenate(r) for r in runs)
    scale = float(np.abs(fp32).max()) or 1.0
    stock_error, native_error = float(np.abs(stock - fp32).max()) / scale, float(np.abs(native - fp32).max()) / scale
    stock_top1 = float((stock.argmax(1) == fp32.argmax(1)).mean())
    native_top1 = float((native.argmax(1) == fp32.argmax(1)).mean())
    # per sample, as verify_written checks one of these inputs (seed 7) after the engine is written
    per_sample = [compare_logits(stock[i : i + 1], native[i : i + 1], 1, np.inf) for i in range(VERIFY_SAMPLES)]
    worst = max(per_sample, key=lambda v: v.max_relative_error)
    top1_vs_stock = float((native.argmax(1) == stock.argmax(1)).mean())
    # close to stock INT8 itself too: where stock INT8 is far from the source (saturating ranges), the source
    # checks hold for anything, and tiny rounding changes can cascade
    failed = [
        what
        for what, ok in (
            ("non-finite outputs", bool(np.isfinite(native).all())),
            (
                "further from the FP32 source than 1.5x stock INT8's error + 1%",
                native_error <= 1.5 * stock_error + 0.01,
            ),
            ("more top-1 answers lost vs the source than 2 of 8", native_top1 >= stock_top1 - 2 / VERIFY_SAMPLES),
            (
                f"more than {MAX_RELATIVE_ERROR_VS_STOCK:.0%} of the logit range from stock INT8",
                worst.max_relative_error <= MAX_RELATIVE_ERROR_VS_STOCK,
            ),
            ("more top-1 answers changed vs stock INT8 than 2 of 8", top1_vs_stock >= 1 - 2 / VERIFY_SAMPLES),
        )
        if not ok
    ]
    passed = not failed
    check = NativeVerification(
        1,
        VERIFY_SAMPLES,
        max(v.max_abs_error for v in per_sample),
        worst.max_relative_error,
        top1_vs_stock,
        passed,
    )
    fidelity = (
        (f"failed: {'; '.join(failed)}. " if failed else "")
        + f"vs the FP32 source: max error {native_error:.1%} of the logit range, top-1 agreement {native_top1:.0%} "
        f"(stock INT8: {stock_error:.1%}, {stock_top1:.0%}); vs stock INT8: {worst.max_relative_error:.1%}, "
        f"top-1 agreement {top1_vs_stock:.0%}"
    )
    return check, fidelity


def build_native_int8(
    source: onnx.ModelProto, model: onnx.ModelProto, progress: Callable[[str], None] = lambda _m: None
) -> NativeBuild:
    """The batch-1 graph of the Q/DQ ``model`` (quantized from ``source``) with every foldable SE gate folded.

    Raises NativeVerificationError when ``verify_int8`` fails.
    """
    progress("SE-native INT8 graph for batch 1: optimizing with ONNX Runtime, folding SE gates into conv3")
    with tempfile.TemporaryDirectory(prefix="se-native-int8-") as scratch:
        optimized = optimize_with_ort(fix_batch(model, 1), Path(scratch) / "optimized1.onnx")
    folded = fold_quantized_gates(optimized)
    blocks = [
        BlockOutcome(
            b.mul,
            None,
            b.folded,
            b.reason,
            hoisted=b.folded,
            folded=b.folded,
            fold_target=FOLD_TARGET if b.folded else "",
        )
        for b in folded.blocks
    ]
    progress("SE-native INT8 graph for batch 1: verifying against stock INT8 and the FP32 source")
    check, fidelity = verify_int8(source, model, folded.model)
    if not check.passed:
        raise NativeVerificationError(f"the folded graph did not verify: {fidelity}")
    notes = [
        "SE-native INT8: one graph at batch 1 (the gate is per sample); larger batches run as batch-1 pieces",
        f"SE-native INT8 verified (fold check on {VERIFY_SAMPLES} image-like inputs): {fidelity}",
    ]
    return NativeBuild(
        current_platform(),
        {1: folded.model},
        blocks,
        [check],
        hoist=True,
        notes=notes,
        fold=True,
        fold_batched=False,
        folded={1: folded.folded},
        weights=share_weights([folded.model]),
        kind=KIND,
        # the written graph is checked on seed 7, one of the inputs verified here: as far from stock as measured
        max_relative_error=check.max_relative_error * 1.01 + 1e-6,
    )
