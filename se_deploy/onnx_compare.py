"""Run two ONNX models on the same random inputs with ONNX Runtime (CPU) and compare every output."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import onnx

_NUMPY_TYPES = {
    onnx.TensorProto.FLOAT: np.float32,
    onnx.TensorProto.FLOAT16: np.float16,
    onnx.TensorProto.DOUBLE: np.float64,
    onnx.TensorProto.INT64: np.int64,
    onnx.TensorProto.INT32: np.int32,
}
DEFAULT_FREE_DIM = 32  # size given to symbolic non-batch dimensions


@dataclass(frozen=True)
class OutputComparison:
    name: str
    batch: int
    max_abs_error: float
    limit: float

    @property
    def passed(self) -> bool:
        return bool(self.max_abs_error <= self.limit)


@dataclass(frozen=True)
class ModelComparison:
    outputs: tuple[OutputComparison, ...]

    @property
    def passed(self) -> bool:
        return all(output.passed for output in self.outputs)

    @property
    def max_abs_error(self) -> float:
        return max((output.max_abs_error for output in self.outputs), default=0.0)

    def to_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "max_abs_error": self.max_abs_error,
            "outputs": [asdict(output) | {"passed": output.passed} for output in self.outputs],
        }


def session(model: onnx.ModelProto):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def random_inputs(model: onnx.ModelProto, batch: int, seed: int) -> dict[str, np.ndarray]:
    """Random values for every graph input: normal floats, zero integers; symbolic dims get sizes."""
    rng = np.random.default_rng(seed)
    initializers = {init.name for init in model.graph.initializer}
    feeds = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        dtype = _NUMPY_TYPES.get(tensor.elem_type)
        if dtype is None:
            raise ValueError(f"input {value.name!r} has an element type se-deploy cannot feed ({tensor.elem_type})")
        shape = [
            d.dim_value if d.HasField("dim_value") else (batch if axis == 0 else DEFAULT_FREE_DIM)
            for axis, d in enumerate(tensor.shape.dim)
        ]
        if np.issubdtype(dtype, np.floating):
            feeds[value.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[value.name] = np.zeros(shape, dtype=dtype)
    return feeds


def batch_is_dynamic(model: onnx.ModelProto) -> bool:
    first = model.graph.input[0].type.tensor_type.shape.dim
    return bool(first) and not first[0].HasField("dim_value")


def compare_models(
    reference: onnx.ModelProto,
    candidate: onnx.ModelProto,
    *,
    batches: tuple[int, ...] = (1, 3),
    atol: float = 1e-4,
    rtol: float = 1e-3,
    seed: int = 0,
) -> ModelComparison:
    """Max abs error per output; passes when ``max|a - b| <= atol + rtol * max|reference|``."""
    reference_session, candidate_session = session(reference), session(candidate)
    names = [output.name for output in reference.graph.output]
    if not batch_is_dynamic(reference):
        batches = (0,)
    results = []
    for batch in batches:
        feeds = random_inputs(reference, batch or 1, seed + batch)
        expected = reference_session.run(names, feeds)
        actual = candidate_session.run(names, feeds)
        for name, want, got in zip(names, expected, actual, strict=True):
            want64, got64 = np.asarray(want, dtype=np.float64), np.asarray(got, dtype=np.float64)
            if want64.shape != got64.shape:
                results.append(OutputComparison(name, batch, float("inf"), 0.0))
                continue
            error = float(np.abs(want64 - got64).max(initial=0.0))
            limit = atol + rtol * float(np.abs(want64).max(initial=0.0))
            results.append(OutputComparison(name, batch, error, limit))
    return ModelComparison(tuple(results))
