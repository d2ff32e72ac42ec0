"""``se-deploy build --backend openvino``: source ONNX -> prepared (``prepare.py``) -> inlined -> engine folder.

OpenVINO reads ONNX itself: the engine folder holds the prepared model with the fused SE node's
functions inlined (OpenVINO cannot convert the se_deploy node) and ``engine.json`` naming this backend.
OpenVINO compiles it for the CPU when it is loaded (``runner.py``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx

import se_deploy
from se_deploy import model_metadata
from se_deploy.backends.base import BuildRequest, BuildResult
from se_deploy.backends.engine_folder import ENGINE_FILENAME, MODEL_FILENAME, EngineDescription
from se_deploy.backends.openvino.artifact import BACKEND_NAME
from se_deploy.backends.openvino.runner import import_openvino, inline_for_openvino
from se_deploy.fileio import atomic_write_text, created_dirs, replace_dir, sha256_of, staging_dir
from se_deploy.onnx_io import load_onnx
from se_deploy.output_guard import ENGINE_DIR, check_output
from se_deploy.prepare import prepare_model

Progress = Callable[[str], None]


@dataclass(frozen=True)
class OpenVINOOptions:
    """OpenVINO's own build options: none yet (threads and batch are chosen when the engine is loaded)."""


def build(request: BuildRequest, options: OpenVINOOptions, progress: Progress = lambda _m: None) -> BuildResult:
    """The backend protocol's ``build``: an engine folder at ``request.output``."""
    request.preparation.validate()
    ov = import_openvino()  # the clear "install openvino" error first, before any work
    calib = request.preparation.calib
    check_output(request.output, ENGINE_DIR, force=request.force, inputs=[request.model, *([calib] if calib else [])])
    source = load_onnx(request.model)
    prepared = prepare_model(source, request.preparation, progress, source_path=request.model)
    model = inline_for_openvino(prepared.model)
    description = EngineDescription(
        backend=BACKEND_NAME,
        precision=request.preparation.precision,
        device="cpu",
        providers=[],
        source_model=str(request.model.absolute()),
        source_sha256=sha256_of(request.model),
        fused=prepared.fused,
        se_blocks=prepared.se_blocks,
        model_name=model_metadata.read(source).get("model"),
        precision_details=prepared.precision_details,
        notes=[
            *prepared.notes,
            *(["the fused SE node's functions are inlined for OpenVINO"] if prepared.fused else []),
        ],
        versions={"se_deploy": se_deploy.__version__, "onnx": onnx.__version__, "openvino": str(ov.__version__)},
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    parent = request.output.parent if str(request.output.parent) else Path(".")
    with created_dirs(parent) as folder, staging_dir(folder) as staging:
        staged = staging / "engine"
        staged.mkdir()
        onnx.save(model, str(staged / MODEL_FILENAME))
        atomic_write_text(staged / ENGINE_FILENAME, description.to_json())
        replace_dir(staged, request.output, staging)
    line = (
        f"built {description.precision} OpenVINO engine folder -> {request.output}\n"
        f"SE blocks: {prepared.se_blocks} ({'fused, inlined' if prepared.fused else 'not fused'})"
    )
    return BuildResult(request.output, [line], notes=list(description.notes), report=json.loads(description.to_json()))
