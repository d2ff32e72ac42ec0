"""What the TensorRT backend builds: a plan (``.plan``) with its JSON sidecar, and the checks made before
loading one. Pure logic: no TensorRT."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from se_deploy.errors import InvalidArgumentError
from se_deploy.fileio import atomic_write_text

SIDECAR_SCHEMA = "se-deploy/tensorrt-plan/1"
SIDECAR_SUFFIX = ".json"
PLAN_SUFFIXES: tuple[str, ...] = (".plan", ".engine")


@dataclass(frozen=True)
class BatchRange:
    """An optimization profile over the batch dimension."""

    min: int
    opt: int
    max: int

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max:
            raise InvalidArgumentError(
                f"batch range must satisfy 1 <= min <= opt <= max, got min={self.min} opt={self.opt} max={self.max}"
            )

    def shapes(self, input_shape: tuple[int | None, ...]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """(min, opt, max) shapes for an input whose only dynamic dimension is the batch."""
        if not input_shape or any(d is None for d in input_shape[1:]):
            raise InvalidArgumentError(
                f"input shape {input_shape} has dynamic dimensions besides the batch; export with a fixed image size"
            )
        fixed = input_shape[0]
        if fixed is not None and not (self.min == self.opt == self.max == fixed):
            raise InvalidArgumentError(
                f"the model has a fixed batch of {fixed}; rebuild it with a dynamic batch or use --min/--opt/--max-batch {fixed}"
            )
        rest = tuple(int(d) for d in input_shape[1:] if d is not None)
        return (self.min, *rest), (self.opt, *rest), (self.max, *rest)


@dataclass(frozen=True)
class PlanMetadata:
    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "9.0"
    precision: str
    se_fused: bool
    plugin: str  # "aot", "jit" or "none" (function inlined)
    input_name: str
    batch: BatchRange
    input_shape: list[int]  # without the batch
    source_sha256: str
    created: str
    notes: list[str] = field(default_factory=list)
    preprocessing: dict[str, Any] | None = None
    output_name: str = "logits"
    num_classes: int | None = None
    schema: str = SIDECAR_SCHEMA

    def write(self, plan: Path) -> Path:
        path = sidecar_path(plan)
        atomic_write_text(path, json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, plan: Path) -> PlanMetadata:
        path = sidecar_path(plan)
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            raise InvalidArgumentError(
                f"{str(plan)!r} has no sidecar {path.name}: se-deploy only loads plans it built (it needs the "
                "TensorRT version, GPU and input range they were built for)"
            ) from None
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(
                f"sidecar {str(path)!r} is not valid JSON ({exc.msg}); rebuild the plan"
            ) from None
        if raw.get("schema") != SIDECAR_SCHEMA:
            raise InvalidArgumentError(
                f"sidecar {str(path)!r} has schema {raw.get('schema')!r}, not {SIDECAR_SCHEMA!r}; rebuild the plan"
            )
        raw["batch"] = BatchRange(**raw["batch"])
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})


def recognizes(path: Path) -> bool:
    """A serialized TensorRT engine: a ``.plan`` (or ``.engine``) file."""
    return path.suffix in PLAN_SUFFIXES


def sidecar_path(plan: Path) -> Path:
    return plan.with_name(plan.name + SIDECAR_SUFFIX)


def check_compatible(meta: PlanMetadata, *, tensorrt_version: str, gpu_name: str, compute_capability: str) -> None:
    """Refuse a plan built for another TensorRT or GPU: TensorRT would fail or, worse, run badly tuned code."""
    problems = []
    if meta.tensorrt_version.split(".")[:3] != tensorrt_version.split(".")[:3]:
        problems.append(f"it was built with TensorRT {meta.tensorrt_version}, this is TensorRT {tensorrt_version}")
    if meta.compute_capability != compute_capability:
        problems.append(
            f"it was built for compute capability {meta.compute_capability} ({meta.gpu_name}), this GPU is {compute_capability} ({gpu_name})"
        )
    elif meta.gpu_name != gpu_name:
        problems.append(f"it was tuned on {meta.gpu_name}, this GPU is {gpu_name}")
    if problems:
        raise InvalidArgumentError(
            "cannot load this TensorRT plan: "
            + "; ".join(problems)
            + ". Rebuild it on this machine with `se-deploy build --backend tensorrt`."
        )


def network_flags(tensorrt_version: str, names: dict[str, int]) -> int:
    """Creation flags: TensorRT 10 needs STRONGLY_TYPED (precision comes from the ONNX); 11 is always strongly typed."""
    major = int(tensorrt_version.split(".")[0])
    if major < 10:
        raise InvalidArgumentError(
            f"TensorRT {tensorrt_version} is too old: se-deploy needs 10.x (strongly typed) or 11.x"
        )
    if major == 10 and "STRONGLY_TYPED" in names:
        return 1 << names["STRONGLY_TYPED"]
    return 0


def format_parser_errors(errors: list[Any]) -> str:
    """TensorRT ONNX parser errors, each naming the failing node (TensorRT 10's IParserError API)."""
    lines = []
    for error in errors:
        node = _call(error, "node_name") or f"node #{_call(error, 'node')}"
        operator = _call(error, "node_operator") or "?"
        lines.append(f"{node} ({operator}): {_call(error, 'desc')}")
    return "; ".join(lines)


def _call(obj: Any, name: str) -> Any:
    method = getattr(obj, name, None)
    return method() if callable(method) else None
