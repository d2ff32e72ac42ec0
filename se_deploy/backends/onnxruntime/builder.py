"""``se-deploy build --backend onnxruntime``: source ONNX -> fused -> FP32/FP16/INT8 -> engine folder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import onnx

import se_deploy
from se_deploy import model_metadata
from se_deploy.backends.onnxruntime.engine import (
    ENGINE_FILENAME,
    MODEL_FILENAME,
    EngineDescription,
    providers_for,
)
from se_deploy.backends.onnxruntime.native.build import NATIVE_DIR, NativeBuild, build_native, unavailable_reason
from se_deploy.backends.onnxruntime.native.platform import current_platform
from se_deploy.errors import InvalidArgumentError
from se_deploy.fileio import atomic_write_text, created_dirs, replace_dir, sha256_of, staging_dir
from se_deploy.input_shapes import Shape
from se_deploy.onnx_io import load_onnx
from se_deploy.output_guard import ENGINE_DIR, check_output
from se_deploy.precision.fidelity import measure_fidelity
from se_deploy.precision.image_input import check_image_input
from se_deploy.prepare import Preparation, prepare_model


@dataclass(frozen=True)
class BuildRequest:
    model: Path
    output: Path
    precision: str = "fp32"
    device: str = "cpu"
    fuse: bool = True
    residual: bool = True
    se_precision: str = "fp16"  # fp16 builds: the fused SE node in fp16 or fp32
    calib: Path | None = None
    calib_samples: int = 256
    calib_method: str = "minmax"
    quant_target: str = "onnxruntime"  # whose quantization settings: onnxruntime (U8S8) or tensorrt (S8S8)
    quantize_se: bool = False
    force: bool = False
    native: bool = True  # FP32 CPU: also write SE-native graphs (see backends/onnxruntime/native)
    max_batch: int = 8  # SE-native: batch buckets 1, 2, 4, ... max_batch
    hoist_squeeze: bool = False  # SE-native: squeeze before a linear 1x1 conv where exact (slower as written)
    input_shapes: dict[str, Shape] | None = None  # --input-shape; else the model's fixed dims or metadata
    fp16_mode: str = "full"  # full: every op FP16; mixed: onnxconverter-common keeps the offending ops FP32
    calib_fit: str = "crop"  # aspect-ratio policy fitting calibration images to the input (data/fit.py)


@dataclass(frozen=True)
class BuildResult:
    engine_dir: Path
    description: EngineDescription
    fidelity: dict[str, object] = field(default_factory=dict)


Progress = Callable[[str], None]


def preparation_of(request: BuildRequest) -> Preparation:
    return Preparation(
        precision=request.precision,
        fuse=request.fuse,
        residual=request.residual,
        se_precision=request.se_precision,
        calib=request.calib,
        calib_samples=request.calib_samples,
        calib_method=request.calib_method,
        quant_target=request.quant_target,
        quantize_se=request.quantize_se,
        input_shapes=request.input_shapes,
        fp16_mode=request.fp16_mode,
        calib_fit=request.calib_fit,
    )


def validate(request: BuildRequest) -> None:
    preparation_of(request).validate()
    if request.max_batch < 1:
        raise InvalidArgumentError(f"--max-batch must be at least 1, got {request.max_batch}")


def build_onnxruntime_engine(request: BuildRequest, progress: Progress = lambda _m: None) -> BuildResult:
    validate(request)
    providers = providers_for(request.device)
    inputs = [request.model] + ([request.calib] if request.calib else [])
    check_output(request.output, ENGINE_DIR, force=request.force, inputs=inputs)
    source = load_onnx(request.model)
    if request.precision == "int8":
        check_image_input(source, request.model)
    with created_dirs(request.output.parent if str(request.output.parent) else Path(".")) as parent:
        return _build(request, source, providers, parent, progress)


def _build(
    request: BuildRequest, source: onnx.ModelProto, providers: list[str], parent: Path, progress: Progress
) -> BuildResult:
    facts = model_metadata.read(source)
    prepared = prepare_model(source, preparation_of(request), progress)  # fuse + precision (se_deploy/prepare.py)
    model, fused, se_blocks, details = prepared.model, prepared.fused, prepared.se_blocks, prepared.precision_details
    notes = list(prepared.notes)
    if request.precision == "int8" and request.device != "cpu":
        notes.append(
            "INT8 Q/DQ on a GPU execution provider: ONNX Runtime's CUDA EP dequantizes most ops; TensorRT is the INT8 GPU path"
        )

    native = None
    if request.native and fused:
        native = _native_graphs(request, source, se_blocks, notes, progress)

    progress("checking the engine runs")
    measured = measure_fidelity(source, model, shapes=request.input_shapes)
    warning = measured.warning(request.precision)
    if warning:
        notes.append(warning)
    import onnxruntime

    description = EngineDescription(
        backend="onnxruntime",
        precision=request.precision,
        device=request.device,
        providers=providers,
        source_model=str(request.model.absolute()),
        source_sha256=sha256_of(request.model),
        fused=fused,
        se_blocks=se_blocks,
        model_name=facts.get("model"),
        precision_details=details,
        notes=notes,
        versions={"se_deploy": se_deploy.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        native=native.to_dict() if native else None,
        fidelity=measured.to_dict(),
    )
    with staging_dir(parent) as staging:
        staged = staging / "engine"
        staged.mkdir()
        onnx.save(model, str(staged / MODEL_FILENAME))
        if native:
            (staged / NATIVE_DIR).mkdir()
            for bucket, name in native.files().items():
                onnx.save(native.graphs[bucket], str(staged / name))
        atomic_write_text(staged / ENGINE_FILENAME, description.to_json())
        replace_dir(staged, request.output, staging)
    return BuildResult(request.output, description, measured.to_dict())


def _native_graphs(
    request: BuildRequest, source: onnx.ModelProto, se_blocks: int, notes: list[str], progress: Progress
) -> NativeBuild | None:
    """SE-native graphs for an FP32 CPU engine, or None with the reason in ``notes``."""
    if request.precision != "fp32" or request.device != "cpu":
        notes.append("SE-native graphs are built for FP32 CPU engines only: this engine is the portable one")
        return None
    reason = unavailable_reason(source, current_platform())
    if reason:
        notes.append(f"SE-native graphs not built ({reason}): this engine is the portable one")
        return None
    native = build_native(source, max_batch=request.max_batch, hoist=request.hoist_squeeze, progress=progress)
    notes.extend(native.notes)
    if len(native.blocks) < se_blocks:
        notes.append(
            f"SE-native: {se_blocks - len(native.blocks)} of {se_blocks} SE blocks are no longer a Mul by a gate in "
            "ONNX Runtime's optimized graph: left as ORT optimized them"
        )
    for block in native.blocks:
        if not block.native:
            notes.append(f"SE-native: SE block {block.mul} left as ONNX Runtime optimized it: {block.reason}")
    if native.native_blocks == 0:
        notes.append("SE-native: no SE block could be rewritten: this engine is the portable one")
        return None
    return native
