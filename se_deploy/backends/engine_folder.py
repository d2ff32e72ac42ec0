"""An engine folder: what ``build`` wrote for an ONNX-reading backend, read by ``bench``, ``eval`` and serving.

An engine folder holds ``model.onnx`` (precision already written in) and ``engine.json`` (this
description); its ``backend`` field names the backend that runs it (ONNX Runtime, OpenVINO).
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
    batch_parallel: dict[str, Any] | None = None  # ONNX Runtime: batches split across cores (batch_parallel.py)
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


def engine_backend(path: Path) -> str | None:
    """The backend named by the engine folder at ``path`` (or its ``engine.json``); None if it is not one.

    An unreadable description names no backend (""): the registry's default reader says what is wrong.
    """
    folder = path if path.is_dir() else path.parent
    if not (path.is_dir() or path.name == ENGINE_FILENAME) or not (folder / ENGINE_FILENAME).is_file():
        return None
    try:
        backend = json.loads((folder / ENGINE_FILENAME).read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        return ""
    return backend if isinstance(backend, str) else ""
