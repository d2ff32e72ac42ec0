"""Run two ONNX models on the same inputs with ONNX Runtime (CPU) and compare what they share.

Inputs are image-like (smooth random images, ImageNet-normalized) at each input's real shape
(``se_deploy.input_shapes``), for several seeds: 32x32 normal noise saturates many detectors, so a
wrong rewrite would pass. Besides the graph outputs, every intermediate tensor both graphs compute
(same name) is compared too, each against its own magnitude; the worst tensor is reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import onnx

from se_deploy.input_shapes import Shape, batch_is_free, graph_inputs, resolve_input_shapes

_NUMPY_TYPES = {
    onnx.TensorProto.FLOAT: np.float32,
    onnx.TensorProto.FLOAT16: np.float16,
    onnx.TensorProto.DOUBLE: np.float64,
    onnx.TensorProto.INT64: np.int64,
    onnx.TensorProto.INT32: np.int32,
}
_FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE)
_MEAN, _STD = 0.45, 0.225  # ImageNet-like normalization of [0, 1] pixels


@dataclass(frozen=True)
class OutputComparison:
    """One tensor on one batch size and seed; ``kind`` is "output" or "intermediate"."""

    name: str
    batch: int
    max_abs_error: float
    limit: float
    reference_max: float = 0.0
    seed: int = 0
    kind: str = "output"

    @property
    def passed(self) -> bool:
        return bool(self.max_abs_error <= self.limit)

    @property
    def relative_error(self) -> float:
        """max |a - b| / max |a| (inf when the reference is all zeros and the candidate is not)."""
        if self.reference_max > 0:
            return self.max_abs_error / self.reference_max
        return 0.0 if self.max_abs_error == 0 else float("inf")

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"passed": self.passed, "relative_error": self.relative_error}


@dataclass(frozen=True)
class ModelComparison:
    outputs: tuple[OutputComparison, ...]
    intermediates: tuple[OutputComparison, ...] = ()
    input_shapes: dict[str, Shape] | None = None

    @property
    def passed(self) -> bool:
        return all(item.passed for item in (*self.outputs, *self.intermediates))

    @property
    def max_abs_error(self) -> float:
        return max((output.max_abs_error for output in self.outputs), default=0.0)

    @property
    def worst(self) -> OutputComparison | None:
        """The tensor closest to (or furthest past) its limit, outputs and intermediates alike."""
        items = (*self.outputs, *self.intermediates)
        return max(items, key=lambda item: _ratio(item), default=None)

    def to_dict(self) -> dict[str, object]:
        worst = self.worst
        return {
            "passed": self.passed,
            "max_abs_error": self.max_abs_error,
            "input_shapes": {k: list(v) for k, v in (self.input_shapes or {}).items()},
            "tensors_compared": len({item.name for item in (*self.outputs, *self.intermediates)}),
            "worst": worst.to_dict() if worst else None,
            "outputs": [output.to_dict() for output in self.outputs],
            "failed_intermediates": [item.to_dict() for item in self.intermediates if not item.passed][:20],
        }


def _ratio(item: OutputComparison) -> float:
    if item.limit > 0:
        return item.max_abs_error / item.limit
    return 0.0 if item.max_abs_error == 0 else float("inf")


def session(model: onnx.ModelProto):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def random_inputs(
    model: onnx.ModelProto, batch: int, seed: int, *, shapes: dict[str, Shape] | None = None
) -> dict[str, np.ndarray]:
    """Inputs at each input's real shape (``shapes`` overrides; see ``resolve_input_shapes``): image-like
    floats for image-shaped inputs (1, 3 or 4 channels, NCHW or NHWC), normal floats otherwise, zero integers."""
    rng = np.random.default_rng(seed)
    resolved = resolve_input_shapes(model, shapes, batch=batch)
    feeds = {}
    for value in graph_inputs(model):
        tensor = value.type.tensor_type
        dtype = _NUMPY_TYPES.get(tensor.elem_type)
        if dtype is None:
            raise ValueError(f"input {value.name!r} has an element type se-deploy cannot feed ({tensor.elem_type})")
        shape = resolved[value.name]
        if np.issubdtype(dtype, np.floating):
            feeds[value.name] = _image_like(rng, shape).astype(dtype)
        else:
            feeds[value.name] = np.zeros(shape, dtype=dtype)
    return feeds


def _image_like(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    if len(shape) != 4 or not (shape[1] in (1, 3, 4) or shape[3] in (1, 3, 4)):
        return rng.standard_normal(shape)
    nhwc = shape[1] not in (1, 3, 4)
    n, c, h, w = (shape[0], shape[3], shape[1], shape[2]) if nhwc else shape
    # Smooth colour fields (bilinear over a coarse grid) plus fine texture: edges, flat areas, gradients.
    gh, gw = max(2, h // 16 + 2), max(2, w // 16 + 2)
    coarse = rng.uniform(0.0, 1.0, (n, c, gh, gw))
    ys, xs = np.linspace(0, gh - 1, h), np.linspace(0, gw - 1, w)
    y0, x0 = np.floor(ys).astype(int).clip(0, gh - 2), np.floor(xs).astype(int).clip(0, gw - 2)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = coarse[:, :, y0][:, :, :, x0] * (1 - fx) + coarse[:, :, y0][:, :, :, x0 + 1] * fx
    bottom = coarse[:, :, y0 + 1][:, :, :, x0] * (1 - fx) + coarse[:, :, y0 + 1][:, :, :, x0 + 1] * fx
    image = np.clip(top * (1 - fy) + bottom * fy + rng.normal(0.0, 0.05, (n, c, h, w)), 0.0, 1.0)
    image = (image - _MEAN) / _STD
    return image.transpose(0, 2, 3, 1) if nhwc else image


def batch_is_dynamic(model: onnx.ModelProto) -> bool:
    inputs = graph_inputs(model)
    return bool(inputs) and batch_is_free(inputs[0])


def shared_tensors(reference: onnx.ModelProto, candidate: onnx.ModelProto) -> list[str]:
    """Float tensors both graphs compute by name (node outputs of the main graphs), graph outputs excluded."""
    types = _float_values(reference)
    produced = {name for node in candidate.graph.node for name in node.output if name}
    outputs = {value.name for value in reference.graph.output}
    names = [name for node in reference.graph.node for name in node.output if name]
    return [name for name in names if name in produced and name not in outputs and name in types]


def compare_models(
    reference: onnx.ModelProto,
    candidate: onnx.ModelProto,
    *,
    batches: tuple[int, ...] = (1, 3),
    atol: float = 1e-4,
    rtol: float = 1e-3,
    seed: int = 0,
    seeds: int = 1,
    shapes: dict[str, Shape] | None = None,
    intermediates: bool = False,
) -> ModelComparison:
    """Per tensor: passes when ``max|a - b| <= atol + rtol * max|reference|``.

    The first batch size runs ``seeds`` seeds, the others one; with ``intermediates`` the shared tensors
    are compared on the first batch size (they cost memory), the graph outputs on all.
    """
    shared = shared_tensors(reference, candidate) if intermediates else []
    reference_session, candidate_session = session(_exposing(reference, shared)), session(_exposing(candidate, shared))
    names = [output.name for output in reference.graph.output]
    if not batch_is_dynamic(reference):
        batches = (0,)
    outputs, inner = [], []
    for position, batch in enumerate(batches):
        for offset in range(seeds if position == 0 else 1):
            run_seed = seed + batch + 1000 * offset
            feeds = random_inputs(reference, batch or 1, run_seed, shapes=shapes)
            wanted = names + (shared if position == 0 else [])
            expected = reference_session.run(wanted, feeds)
            actual = candidate_session.run(wanted, feeds)
            for k, (name, want, got) in enumerate(zip(wanted, expected, actual, strict=True)):
                item = _compare(
                    name, batch, run_seed, want, got, atol, rtol, "output" if k < len(names) else "intermediate"
                )
                (outputs if k < len(names) else inner).append(item)
    resolved = resolve_input_shapes(reference, shapes, batch=batches[0] or 1)
    return ModelComparison(tuple(outputs), tuple(inner), resolved)


def _compare(
    name: str, batch: int, seed: int, want: np.ndarray, got: np.ndarray, atol: float, rtol: float, kind: str
) -> OutputComparison:
    want64, got64 = np.asarray(want, dtype=np.float64), np.asarray(got, dtype=np.float64)
    if want64.shape != got64.shape:
        return OutputComparison(name, batch, float("inf"), 0.0, 0.0, seed, kind)
    with np.errstate(invalid="ignore"):
        difference = np.abs(want64 - got64)
    both_nan = np.isnan(want64) & np.isnan(got64)
    difference[both_nan] = 0.0
    error = float(np.nan_to_num(difference, nan=np.inf).max(initial=0.0))
    reference_max = float(np.nan_to_num(np.abs(want64), nan=0.0, posinf=0.0).max(initial=0.0))
    return OutputComparison(name, batch, error, atol + rtol * reference_max, reference_max, seed, kind)


def _exposing(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    if not names:
        return model
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    existing = {value.name for value in exposed.graph.output}
    exposed.graph.output.extend(onnx.ValueInfoProto(name=name) for name in names if name not in existing)
    return exposed


def _float_values(model: onnx.ModelProto) -> set[str]:
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # best effort: without types, compare only what is known to be float
        inferred = model
    graph = inferred.graph
    return {
        value.name
        for value in (*graph.value_info, *graph.output)
        if value.type.HasField("tensor_type") and value.type.tensor_type.elem_type in _FLOAT_TYPES
    }
