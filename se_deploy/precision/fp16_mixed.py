"""FP16 with the ops that break the model kept in FP32: onnxconverter-common's automatic mixed precision.

``auto_convert_mixed_precision`` bisects the node list, converting all but a block list and keeping the
smallest block list whose outputs still pass our fidelity limits (``fidelity.FIDELITY_LIMITS``) on
image-like inputs at the model's input shape. The search is the library's, not ours.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter

import numpy as np
import onnx

from se_deploy.input_shapes import Shape
from se_deploy.onnx_compare import random_inputs
from se_deploy.precision.fidelity import CHANGED_SHARE, FIDELITY_LIMITS
from se_deploy.precision.fp16 import Fp16Result
from se_deploy.rewrite.graph import topologically_sorted


def outputs_agree(reference: list[np.ndarray], candidate: list[np.ndarray]) -> bool:
    """Every output within FIDELITY_LIMITS of its reference (the same figures ``build`` reports)."""
    for want, got in zip(reference, candidate, strict=True):
        want64, got64 = np.asarray(want, np.float64), np.asarray(got, np.float64)
        error = np.abs(want64 - got64)
        scale = float(np.abs(want64).max(initial=0.0))
        if not np.isfinite(error).all():
            return False
        if float(error.max(initial=0.0)) > FIDELITY_LIMITS["worst_relative_error"] * scale:
            return False
        if float((error > CHANGED_SHARE * scale).mean()) > FIDELITY_LIMITS["changed_fraction"]:
            return False
    return True


def convert_fp16_mixed(
    model: onnx.ModelProto, *, shapes: dict[str, Shape] | None = None, batch: int = 2, seed: int = 0
) -> Fp16Result:
    from onnxconverter_common.auto_mixed_precision import auto_convert_mixed_precision

    named = onnx.ModelProto()
    named.CopyFrom(model)
    used = {node.name for node in named.graph.node if node.name}
    for position, node in enumerate(named.graph.node):  # the library blocks nodes by name
        if not node.name:
            node.name = f"se_deploy_node_{position}"
            while node.name in used:
                node.name += "_"
            used.add(node.name)
    feeds = random_inputs(named, batch, seed, shapes=shapes)
    with contextlib.redirect_stdout(io.StringIO()):  # the library prints every attempt
        converted = auto_convert_mixed_precision(named, feeds, validate_fn=outputs_agree, keep_io_types=True)
    converted = topologically_sorted(converted)
    float_inputs = _float32_compute_nodes(converted)
    casts = sum(node.op_type == "Cast" for node in converted.graph.node)
    return Fp16Result(converted, dict(Counter(float_inputs)), casts)


def _float32_compute_nodes(model: onnx.ModelProto) -> list[str]:
    """Op types of the non-Cast nodes that still compute in FP32 (their first input is float32)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in (*inferred.graph.value_info, *inferred.graph.input)}
    types.update({init.name: init.data_type for init in model.graph.initializer})
    return [
        node.op_type
        for node in model.graph.node
        if node.op_type not in ("Cast", "Constant", "Shape")
        and node.input
        and types.get(node.input[0]) == onnx.TensorProto.FLOAT
    ]
