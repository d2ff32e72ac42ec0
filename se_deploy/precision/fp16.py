"""FP16 written into the ONNX: one artifact that ONNX Runtime and (strongly typed) TensorRT both build.

Uses ONNX Runtime's own converter (``onnxruntime.transformers.float16``, shipped in the onnxruntime
wheel: no extra dependency). What stays in FP32:

* graph inputs and outputs, by default (``keep_io_types``): callers keep feeding FP32 images and
  reading FP32 logits; the casts sit at the edges;
* the ops in ORT's default block list (``DEFAULT_OP_BLOCK_LIST``: ops without FP16 kernels or whose
  integer/index outputs depend on exact FP32 values, e.g. TopK, Range, CumSum, NonMaxSuppression) -
  a CNN classifier normally has none;
* the fused SE node, only when asked (``se_precision="fp32"``): its excitation is tiny, and FP32
  there costs two casts per block.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import onnx

from se_deploy.rewrite.fused_op import DOMAIN
from se_deploy.rewrite.graph import topologically_sorted
from se_deploy.se_variants import SE_OP, SE_RESIDUAL_OP


@dataclass(frozen=True)
class Fp16Result:
    model: onnx.ModelProto
    kept_fp32_ops: dict[str, int]  # op type -> nodes left computing in FP32
    casts: int


def convert_fp16(model: onnx.ModelProto, *, keep_io_types: bool = True, se_precision: str = "fp16") -> Fp16Result:
    if se_precision not in ("fp16", "fp32"):
        raise ValueError(f"se_precision must be fp16 or fp32, got {se_precision!r}")
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    block_list = list(DEFAULT_OP_BLOCK_LIST)
    if se_precision == "fp32":
        block_list += [SE_OP, SE_RESIDUAL_OP]
    converted = convert_float_to_float16(model, keep_io_types=keep_io_types, op_block_list=block_list)
    converted = topologically_sorted(converted)  # the converter appends its edge casts at the end
    kept = Counter(
        n.op_type
        for n in converted.graph.node
        if n.op_type in block_list and (n.domain in ("", "ai.onnx") or n.domain == DOMAIN)
    )
    casts = sum(n.op_type == "Cast" for n in converted.graph.node)
    return Fp16Result(converted, dict(kept), casts)
