"""``se-deploy build --backend onnxruntime``: source ONNX -> fused -> FP32/FP16/INT8 -> engine folder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

import se_deploy
from se_deploy import model_metadata
from se_deploy.backends.onnxruntime.engine import (
    ENGINE_FILENAME,
    MODEL_FILENAME,
    PRECISIONS,
    EngineDescription,
    providers_for,
)
from se_deploy.errors import InvalidArgumentError, OutputError
from se_deploy.fileio import atomic_write_text, ensure_writable_dir, replace_dir, staging_dir
from se_deploy.models.checkpoint import sha256_of
from se_deploy.onnx_compare import random_inputs, session
from se_deploy.precision.calibration import load_calibration_set
from se_deploy.precision.fp16 import convert_fp16
from se_deploy.precision.int8 import CALIBRATION_METHODS, QUANT_PRESETS, quantize_int8
from se_deploy.rewrite.job import load_onnx
from se_deploy.rewrite.matcher import find_se_blocks
from se_deploy.rewrite.surgery import fuse_se


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


@dataclass(frozen=True)
class BuildResult:
    engine_dir: Path
    description: EngineDescription
    fidelity: dict[str, float] = field(default_factory=dict)


Progress = Callable[[str], None]


def validate(request: BuildRequest) -> None:
    if request.precision not in PRECISIONS:
        raise InvalidArgumentError(f"unknown precision {request.precision!r}; choose one of {', '.join(PRECISIONS)}")
    if request.precision == "int8":
        if request.calib is None:
            raise InvalidArgumentError("--precision int8 needs calibration images: pass --calib DIR (an image folder)")
        if request.calib_method not in CALIBRATION_METHODS:
            raise InvalidArgumentError(f"--calib-method must be one of {', '.join(CALIBRATION_METHODS)}")
        if request.quant_target not in QUANT_PRESETS:
            raise InvalidArgumentError(f"--quant-target must be one of {', '.join(QUANT_PRESETS)}")
    if request.se_precision not in ("fp16", "fp32"):
        raise InvalidArgumentError("--se-precision must be fp16 or fp32")


def build_onnxruntime_engine(request: BuildRequest, progress: Progress = lambda _m: None) -> BuildResult:
    validate(request)
    providers = providers_for(request.device)
    if request.output.exists() and not request.force:
        raise OutputError(f"{str(request.output)!r} already exists; pass --force to replace it")
    parent = ensure_writable_dir(request.output.parent if str(request.output.parent) else Path("."))
    source = load_onnx(request.model)
    facts = model_metadata.read(source)
    notes: list[str] = []

    fused = False
    model = source
    quantize_unfused = request.precision == "int8" and request.quantize_se
    if request.fuse and not quantize_unfused:
        progress("finding and fusing SE blocks")
        surgery = fuse_se(source, residual=request.residual)  # matches once; its report counts the blocks
        se_blocks = len(surgery.report.blocks)
        if se_blocks:
            model, fused = surgery.model, True
    else:
        se_blocks = len(find_se_blocks(source).blocks)
    if se_blocks == 0:
        notes.append("the model has no SE blocks: built as it is")
    elif quantize_unfused:
        notes.append("--quantize-se: SE blocks left unfused so their ops get Q/DQ like the rest")

    details: dict[str, object] = {}
    if request.precision == "fp16":
        progress("converting to FP16")
        result = convert_fp16(model, se_precision=request.se_precision)
        model = result.model
        details = {
            "keep_io_types": True,
            "se_precision": request.se_precision,
            "kept_fp32_ops": result.kept_fp32_ops,
            "casts": result.casts,
        }
    elif request.precision == "int8":
        assert request.calib is not None
        preprocessing = model_metadata.preprocessing_of(source)
        if preprocessing is None:
            preprocessing = model_metadata.default_preprocessing(source)
            notes.append(
                f"no se-deploy preprocessing in the model: calibrating with ImageNet mean/std at {preprocessing.crop_size}px"
            )
        progress(f"reading calibration images from {request.calib}")
        calibration = load_calibration_set(request.calib, preprocessing, samples=request.calib_samples)
        notes.extend(calibration.notes)
        progress(f"calibrating ({request.calib_method}, {calibration.samples} images) and quantizing")
        quantized = quantize_int8(
            model,
            calibration,
            settings=QUANT_PRESETS[request.quant_target],
            method=request.calib_method,
            quantize_se=request.quantize_se,
        )
        model = quantized.model
        if quantized.se_inlined:
            notes.append(
                f"INT8 for {request.quant_target}: the {quantized.se_inlined} fused SE nodes were inlined before "
                "quantizing (the runtime inlines them anyway): the SE is quantized like the stock graph's"
            )
        details = quantized.to_dict() | {
            "calibration_samples": calibration.samples,
            "calibration_folder": str(request.calib),
        }
        if request.device != "cpu":
            notes.append(
                "INT8 Q/DQ on a GPU execution provider: ONNX Runtime's CUDA EP dequantizes most ops; TensorRT is the INT8 GPU path"
            )

    progress("checking the engine runs")
    fidelity = _fidelity(source, model)
    model_metadata.embed(model, {"engine_precision": request.precision, "se_fused": fused})
    import onnxruntime

    description = EngineDescription(
        backend="onnxruntime",
        precision=request.precision,
        device=request.device,
        providers=providers,
        source_model=str(request.model),
        source_sha256=sha256_of(request.model),
        fused=fused,
        se_blocks=se_blocks,
        model_name=facts.get("model"),
        precision_details=details,
        notes=notes,
        versions={"se_deploy": se_deploy.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    with staging_dir(parent) as staging:
        staged = staging / "engine"
        staged.mkdir()
        onnx.save(model, str(staged / MODEL_FILENAME))
        atomic_write_text(staged / ENGINE_FILENAME, description.to_json())
        replace_dir(staged, request.output, staging)
    return BuildResult(request.output, description, fidelity)


def _fidelity(source: onnx.ModelProto, engine: onnx.ModelProto) -> dict[str, float]:
    """Engine vs source FP32 on random inputs: a smoke check that it runs and roughly agrees."""
    feeds = random_inputs(source, 4, seed=0)
    (want,) = session(source).run(None, feeds)[:1]
    (got,) = session(engine).run(None, feeds)[:1]
    want64, got64 = np.asarray(want, np.float64), np.asarray(got, np.float64)
    agreement = float((want64.argmax(-1) == got64.argmax(-1)).mean()) if want64.ndim == 2 else float("nan")
    return {"max_abs_error": float(np.abs(want64 - got64).max()), "top1_agreement_random_inputs": agreement}
