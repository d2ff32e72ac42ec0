"""Calibrating from an image folder needs an image model: one float input shaped (N, 3, H, W)."""

from __future__ import annotations

from pathlib import Path

import onnx

from se_deploy.errors import InvalidArgumentError

_FLOATS = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The inputs a caller feeds (initializers listed as inputs by old exporters left out)."""
    initializers = {init.name for init in model.graph.initializer}
    return [value for value in model.graph.input if value.name not in initializers]


def _dims(value: onnx.ValueInfoProto) -> list[str]:
    return [
        str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in value.type.tensor_type.shape.dim
    ]


CALIBRATION = "INT8 calibration from --calib images"


def check_image_input(model: onnx.ModelProto, path: Path, purpose: str = CALIBRATION) -> None:
    """Raise InvalidArgumentError unless ``model`` takes one float (N, 3, H, W) image batch (``purpose`` needs it)."""
    inputs = graph_inputs(model)
    if len(inputs) != 1:
        names = ", ".join(value.name for value in inputs) or "none"
        raise InvalidArgumentError(
            f"{str(path)!r} has {len(inputs)} inputs ({names}); {purpose} needs a model with one image input (N, 3, H, W)"
        )
    (value,) = inputs
    tensor = value.type.tensor_type
    dims = _dims(value)
    channels = tensor.shape.dim[1] if len(dims) == 4 else None
    if (
        tensor.elem_type not in _FLOATS
        or len(dims) != 4
        or (channels is not None and channels.HasField("dim_value") and channels.dim_value != 3)
    ):
        dtype = onnx.TensorProto.DataType.Name(tensor.elem_type).lower()
        raise InvalidArgumentError(
            f"{str(path)!r} takes input {value.name!r} as {dtype}[{', '.join(dims)}], not an image batch "
            f"(N, 3, H, W): {purpose} needs an image model"
            + ("; build it as fp32/fp16" if purpose == CALIBRATION else "")
        )
