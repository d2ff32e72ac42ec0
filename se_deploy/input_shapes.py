"""The concrete shape of each graph input, for every command that runs a model.

Foreign models declare their inputs with fixed sizes, symbolic names (``N``, ``DynamicDimension.0``)
or ``-1``. The batch axis takes the batch asked for; any other dim comes from ``--input-shape
NAME:1x3x640x640``, else from the dim itself when fixed, else from se-deploy's metadata (the image
size it exported at). A dim with none of these is refused with its name: se-deploy does not guess
an image size (a detector verified on 32x32 noise verifies nothing).
"""

from __future__ import annotations

import re

import onnx

from se_deploy import model_metadata
from se_deploy.errors import InvalidArgumentError

Shape = tuple[int, ...]
_SPEC = re.compile(r"^(?P<name>.+):(?P<dims>\d+(?:x\d+)*)$")


def parse_input_shape(spec: str) -> tuple[str, Shape]:
    """``NAME:1x3x640x640`` -> ("NAME", (1, 3, 640, 640))."""
    match = _SPEC.match(spec.strip())
    if match is None:
        raise InvalidArgumentError(
            f"--input-shape {spec!r} is not NAME:DIMxDIM...; e.g. --input-shape images:1x3x640x640"
        )
    dims = tuple(int(d) for d in match["dims"].split("x"))
    if any(d < 1 for d in dims):
        raise InvalidArgumentError(f"--input-shape {spec!r} has a dim below 1")
    return match["name"], dims


def parse_input_shapes(specs: tuple[str, ...] | list[str]) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {}
    for spec in specs:
        name, dims = parse_input_shape(spec)
        if name in shapes:
            raise InvalidArgumentError(f"--input-shape names {name!r} twice")
        shapes[name] = dims
    return shapes


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The inputs a caller feeds (old IR versions also list initializers as inputs)."""
    initializers = {init.name for init in model.graph.initializer}
    return [value for value in model.graph.input if value.name not in initializers]


def resolve_input_shapes(
    model: onnx.ModelProto, overrides: dict[str, Shape] | None = None, *, batch: int | None = None
) -> dict[str, Shape]:
    """A concrete shape per graph input; ``batch`` (when given) replaces a free or overridden batch dim."""
    overrides = dict(overrides or {})
    inputs = graph_inputs(model)
    unknown = sorted(set(overrides) - {value.name for value in inputs})
    if unknown:
        names = ", ".join(repr(value.name) for value in inputs)
        raise InvalidArgumentError(f"--input-shape names {unknown[0]!r}, which is not a model input (inputs: {names})")
    image_size = _metadata_image_size(model)
    shapes: dict[str, Shape] = {}
    for value in inputs:
        dims = list(value.type.tensor_type.shape.dim)
        if value.name in overrides:
            shapes[value.name] = _checked_override(value.name, dims, overrides[value.name], batch)
            continue
        resolved: list[int] = []
        for axis, dim in enumerate(dims):
            fixed = dim.dim_value if dim.HasField("dim_value") and dim.dim_value > 0 else None
            if axis == 0 and len(dims) > 1 and fixed is None:
                resolved.append(batch or 1)
            elif fixed is not None:
                resolved.append(fixed)
            elif image_size is not None and len(dims) == 4 and axis in (2, 3):
                resolved.append(image_size)
            else:
                label = dim.dim_param or (str(dim.dim_value) if dim.HasField("dim_value") else "unset")
                example = "x".join(_example_dims(dims, resolved))
                raise InvalidArgumentError(
                    f"input {value.name!r} dim {axis} ({label!r}) has no fixed size and the model names none; "
                    f"pass --input-shape {value.name}:{example} with the size it runs at"
                )
        shapes[value.name] = tuple(resolved)
    return shapes


def with_batch(shapes: dict[str, Shape], model: onnx.ModelProto, batch: int) -> dict[str, Shape]:
    """``shapes`` with the batch dim set to ``batch`` for inputs whose batch dim is free."""
    free = {value.name for value in graph_inputs(model) if batch_is_free(value)}
    return {name: (batch, *shape[1:]) if name in free and shape else shape for name, shape in shapes.items()}


def batch_is_free(value: onnx.ValueInfoProto) -> bool:
    dims = value.type.tensor_type.shape.dim
    return len(dims) > 1 and not (dims[0].HasField("dim_value") and dims[0].dim_value > 0)


def _example_dims(dims: list[onnx.TensorShapeProto.Dimension], resolved: list[int]) -> list[str]:
    """The dims known so far, then each remaining dim's fixed size or a placeholder (H, W for images)."""
    names = {2: "H", 3: "W"} if len(dims) == 4 else {}
    example = [str(d) for d in resolved]
    for axis in range(len(resolved), len(dims)):
        dim = dims[axis]
        fixed = dim.HasField("dim_value") and dim.dim_value > 0
        example.append(str(dim.dim_value) if fixed else names.get(axis, "D"))
    return example


def _checked_override(name: str, dims: list[onnx.TensorShapeProto.Dimension], shape: Shape, batch: int | None) -> Shape:
    if dims and len(dims) != len(shape):
        raise InvalidArgumentError(f"--input-shape {name}: gives {len(shape)} dims, but the input has rank {len(dims)}")
    for axis, (dim, size) in enumerate(zip(dims, shape, strict=False)):
        if dim.HasField("dim_value") and dim.dim_value > 0 and dim.dim_value != size:
            raise InvalidArgumentError(
                f"--input-shape {name}: dim {axis} is fixed at {dim.dim_value} in the model, not {size}"
            )
    if batch is not None and dims and not (dims[0].HasField("dim_value") and dims[0].dim_value > 0):
        return (batch, *shape[1:])
    return shape


def _metadata_image_size(model: onnx.ModelProto) -> int | None:
    preprocessing = model_metadata.preprocessing_of(model)
    return preprocessing.crop_size if preprocessing is not None else None
