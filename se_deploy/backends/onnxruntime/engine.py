"""The ONNX Runtime engine description: what ``build`` wrote, read by ``bench``, ``eval`` and serving.

An engine is a folder: ``model.onnx`` (precision already written in) and ``engine.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from se_deploy.errors import InvalidArgumentError

ENGINE_SCHEMA = "se-deploy/engine/1"
ENGINE_FILENAME = "engine.json"
MODEL_FILENAME = "model.onnx"
DEVICES: dict[str, list[str]] = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class EngineDescription:
    backend: str
    precision: str
    device: str
    providers: list[str]
    source_model: str
    source_sha256: str
    fused: bool
    se_blocks: int
    model_file: str = MODEL_FILENAME
    model_name: str | None = None
    precision_details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    native: dict[str, Any] | None = None  # SE-native graphs per batch bucket (native/build.py's to_dict)
    schema: str = ENGINE_SCHEMA
    fidelity: dict[str, Any] = field(default_factory=dict)  # vs the FP32 source (precision/fidelity.py)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def read(cls, folder: Path) -> EngineDescription:
        path = folder / ENGINE_FILENAME
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise InvalidArgumentError(
                f"{str(folder)!r} is not an se-deploy engine: it has no {ENGINE_FILENAME}"
            ) from None
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(f"{str(path)!r} is not valid JSON ({exc.msg}); rebuild the engine") from None
        if raw.get("schema") != ENGINE_SCHEMA:
            raise InvalidArgumentError(
                f"{str(path)!r} has schema {raw.get('schema')!r}; this se-deploy reads {ENGINE_SCHEMA!r}: rebuild the engine"
            )
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in raw.items() if k in known})


def providers_for(device: str) -> list[str]:
    """Execution providers for ``device``; refuses one this onnxruntime build does not have."""
    import onnxruntime as ort

    if device not in DEVICES:
        raise InvalidArgumentError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    wanted = DEVICES[device]
    available = ort.get_available_providers()
    if wanted[0] not in available:
        raise InvalidArgumentError(
            f"--device {device} needs {wanted[0]}, which this onnxruntime ({ort.__version__}) does not have "
            f"(it has {', '.join(available)}). Install the GPU build: pip install 'se-deploy[gpu]'."
        )
    return wanted
