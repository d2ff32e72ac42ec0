"""INT8 written into the ONNX as explicit Q/DQ (static post-training quantization, ONNX Runtime's tool).

Settings are per target backend (``QUANT_PRESETS``): TensorRT's explicit quantization wants symmetric
INT8 activations (S8S8), while ONNX Runtime's x86 kernels are faster with unsigned activations (U8S8);
see the README for the measurements behind each default. Weights are always symmetric per-channel
INT8, and biases are left in float (``QuantizeBias=False``): TensorRT's parser rejects INT32 bias Q/DQ.

SE blocks per target: for TensorRT the model is fused first, so each SE block is one ``se_deploy`` node
that the quantizer leaves in float (the plugin runs it; the sigmoid/hard-sigmoid gate is known to lose
accuracy under INT8 PTQ). For ONNX Runtime, which inlines the fused node anyway, the fused functions are
inlined before quantizing (``QuantSettings.inline_fused_se``, ``se_qdq.py``): a float function body between
DQ and Q made fused INT8 slower than stock INT8, and inlined the SE is quantized exactly like the stock
graph's. ``quantize_se=True`` quantizes the unfused SE ops for any target, to compare.

Every build writes the spatial ``ReduceMean`` squeeze as ``GlobalAveragePool`` first (an exact rewrite,
``rewrite/squeeze_pool.py``): ONNX Runtime fuses ``DQ -> GlobalAveragePool -> Q`` into one quantized pooling
op but runs ``ReduceMean`` in float on the dequantized tensor.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx

from se_deploy.precision.se_qdq import SEInlining, inline_fused_se
from se_deploy.rewrite.fused_op import DOMAIN
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.squeeze_pool import SqueezePoolResult, reduce_mean_to_global_pool


@dataclass(frozen=True)
class QuantSettings:
    backend: str
    activation_type: str  # "int8" (S8S8) or "uint8" (U8S8)
    activation_symmetric: bool
    weight_symmetric: bool = True
    per_channel: bool = True
    reduce_range: bool = False  # 7-bit weights: no int16 saturation in x86 U8S8 kernels without VNNI
    why: str = ""
    # Inline the fused SE functions before quantizing (the runtime inlines them anyway, and a float function
    # body between DQ and Q costs more than the stock graph's quantized ops).
    inline_fused_se: bool = False

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


QUANT_PRESETS: dict[str, QuantSettings] = {
    "onnxruntime": QuantSettings(
        "onnxruntime",
        "uint8",
        activation_symmetric=False,
        reduce_range=True,
        why=(
            "ONNX Runtime's x86 int8 kernels are built for unsigned activations (U8S8); S8S8 Q/DQ ran slower. "
            "7-bit weights (reduce_range): on AVX2 CPUs without VNNI the U8S8 kernels sum u8*s8 pairs in int16 "
            "(vpmaddubsw), which saturates with 8-bit weights, so the same engine gave different predictions "
            "on AVX2 and on AVX-512 VNNI/AMX CPUs (benchmarks/results/int8_reproducibility.json)"
        ),
        inline_fused_se=True,
    ),
    "tensorrt": QuantSettings(
        "tensorrt",
        "int8",
        activation_symmetric=True,
        why="TensorRT explicit quantization takes symmetric INT8 Q/DQ (S8S8)",
    ),
}
CALIBRATION_METHODS: tuple[str, ...] = ("minmax", "entropy", "percentile")
_QDQ = frozenset({"QuantizeLinear", "DequantizeLinear"})


@dataclass(frozen=True)
class Int8Result:
    model: onnx.ModelProto
    settings: QuantSettings
    method: str
    quantize_se: bool
    qdq_nodes: int
    se_ops_with_qdq: int  # SE ops (fused nodes' weights, or unfused / inlined SE ops) that read a DequantizeLinear
    float_outputs: tuple[str, ...] = ()  # graph outputs whose Q/DQ pair was removed (logits stay float)
    squeeze_pool: SqueezePoolResult | None = None
    se_inlined: int = 0  # fused SE nodes inlined before quantizing (inline_fused_se)

    def to_dict(self) -> dict[str, object]:
        return {
            "settings": self.settings.to_dict(),
            "method": self.method,
            "quantize_se": self.quantize_se,
            "qdq_nodes": self.qdq_nodes,
            "se_ops_with_qdq": self.se_ops_with_qdq,
            "float_outputs": list(self.float_outputs),
            "squeeze_as_global_average_pool": self.squeeze_pool.to_dict() if self.squeeze_pool else None,
            "se_inlined": self.se_inlined,
        }


def quantize_int8(
    model: onnx.ModelProto,
    calibration: Iterable[np.ndarray],
    *,
    settings: QuantSettings,
    method: str = "minmax",
    quantize_se: bool = False,
    float_outputs: bool = True,
) -> Int8Result:
    """Quantize ``model`` (fused, or stock when ``quantize_se``) with ``calibration`` batches.

    ``float_outputs`` removes the Q/DQ pair the quantizer puts on each graph output: quantized logits
    take a few hundred distinct values, so top-1 ties are common and decided by the tie-break rule,
    not the model (4 of the 450 digits test images tied with ONNX Runtime 1.32).
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration method must be one of {CALIBRATION_METHODS}, got {method!r}")
    inlined = SEInlining(model, 0)
    if quantize_se or settings.inline_fused_se:
        inlined = inline_fused_se(model)  # fused nodes back to standard ops
        model = inlined.model
    pooled = reduce_mean_to_global_pool(model)  # after inlining: every squeeze the quantizer sees
    model = pooled.model
    se_op_names = _se_op_names(model) if quantize_se or inlined.fused_nodes else set()
    input_name = model.graph.input[0].name
    batches = list(calibration)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._iterator = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._iterator, None)
            return None if batch is None else {input_name: batch}

    activation_type = QuantType.QInt8 if settings.activation_type == "int8" else QuantType.QUInt8
    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    with tempfile.TemporaryDirectory(prefix="se-deploy-int8-") as scratch:
        source, target = Path(scratch) / "fp32.onnx", Path(scratch) / "int8.onnx"
        onnx.save(model, str(source))
        cwd = os.getcwd()
        os.chdir(scratch)  # the calibrator writes its augmented model into the working directory
        root_logger = logging.getLogger()
        level = root_logger.level
        root_logger.setLevel(logging.ERROR)  # ORT's quantizer logs advice to the root logger
        try:
            quantize_static(
                str(source),
                str(target),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=settings.per_channel,
                reduce_range=settings.reduce_range,
                activation_type=activation_type,
                weight_type=QuantType.QInt8,
                calibrate_method=methods[method],
                extra_options={
                    "ActivationSymmetric": settings.activation_symmetric,
                    "WeightSymmetric": settings.weight_symmetric,
                    "QuantizeBias": False,
                },
            )
        finally:
            os.chdir(cwd)
            root_logger.setLevel(level)
        quantized = onnx.load(str(target))
    quantized.metadata_props.extend(
        p for p in model.metadata_props if p.key not in {q.key for q in quantized.metadata_props}
    )
    kept_float = drop_output_qdq(quantized) if float_outputs else ()
    qdq = sum(node.op_type in _QDQ for node in quantized.graph.node)
    return Int8Result(
        quantized,
        settings,
        method,
        quantize_se,
        qdq,
        count_se_ops_with_qdq(quantized, se_op_names),
        float_outputs=kept_float,
        squeeze_pool=pooled,
        se_inlined=inlined.fused_nodes,
    )


def drop_output_qdq(model: onnx.ModelProto) -> tuple[str, ...]:
    """Remove QuantizeLinear -> DequantizeLinear pairs that end at a graph output (in place)."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    kept: list[str] = []
    for dq in list(graph.node):
        if dq.op_type != "DequantizeLinear" or dq.output[0] not in outputs:
            continue
        q = producers.get(dq.input[0])
        if q is None or q.op_type != "QuantizeLinear" or consumers.get(q.output[0], 0) != 1:
            continue
        index = list(graph.node).index(q)
        graph.node.remove(q)
        graph.node.remove(dq)
        graph.node.insert(
            index, onnx.helper.make_node("Identity", [q.input[0]], [dq.output[0]], name=f"{dq.output[0]}_float")
        )
        kept.append(dq.output[0])
    used = {name for node in graph.node for name in node.input}
    for initializer in list(graph.initializer):
        if initializer.name not in used and initializer.name not in outputs:
            graph.initializer.remove(initializer)
    return tuple(kept)


def _se_op_names(model: onnx.ModelProto) -> set[str]:
    report = find_se_blocks(model)
    nodes = list(model.graph.node)
    return {nodes[p].name for block in report.blocks for p in block.nodes if nodes[p].name}


def count_se_ops_with_qdq(model: onnx.ModelProto, se_op_names: set[str] | None = None) -> int:
    """SE ops reading a DequantizeLinear output: the fused nodes' weight inputs, or named unfused SE ops."""
    producers = {out: node for node in model.graph.node for out in node.output}
    count = 0
    for node in model.graph.node:
        if node.domain == DOMAIN:
            inputs = node.input[1:5]  # W1, B1, W2, B2: X comes from the previous layer's Q/DQ, outside the SE
        elif se_op_names and node.name in se_op_names:
            inputs = node.input
        else:
            continue
        if any(name in producers and producers[name].op_type == "DequantizeLinear" for name in inputs):
            count += 1
    for function in model.functions:
        if function.domain == DOMAIN and any(n.op_type in _QDQ for n in function.node):
            count += 1
    return count
