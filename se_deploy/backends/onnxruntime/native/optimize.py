"""ORT's own optimization (ORT_ENABLE_ALL, NCHWc included), saved as a graph we can rewrite."""

from __future__ import annotations

from pathlib import Path

import onnx

from se_deploy.onnx_io import load_onnx


def optimize_with_ort(model: onnx.ModelProto, scratch: Path) -> onnx.ModelProto:
    """The graph ORT runs for ``model`` on this CPU (written to ``scratch``, read back with its weights)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # ORT warns that NCHWc graphs are hardware specific: that is the point
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(scratch)
    ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return load_onnx(scratch)


def fix_batch(model: onnx.ModelProto, batch: int) -> onnx.ModelProto:
    """A copy of ``model`` whose inputs and outputs have batch ``batch``, shapes inferred throughout."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for value in list(fixed.graph.input) + list(fixed.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_param")
            dims[0].dim_value = batch
    del fixed.graph.value_info[:]
    return onnx.shape_inference.infer_shapes(fixed, data_prop=True)


def static_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """name -> shape for every tensor of ``model`` whose shape is fully known."""
    shapes: dict[str, tuple[int, ...]] = {}
    for value in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if value.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = tuple(int(d.dim_value) for d in dims)
    for init in model.graph.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes
