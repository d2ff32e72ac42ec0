"""Backend-neutral preparation of a model for an engine: fuse the SE blocks, write the precision into the ONNX.

Every backend takes the same steps (ONNX Runtime engines, TensorRT plans): what differs afterwards is
backend-specific (ONNX Runtime saves the model; TensorRT lowers the fused nodes to its plugins and
parses it). The INT8 quantization settings are per target runtime (``quant_target``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from se_deploy import model_metadata
from se_deploy.data.fit import FIT_POLICIES
from se_deploy.errors import InvalidArgumentError
from se_deploy.input_shapes import Shape, resolve_input_shapes
from se_deploy.precision.calibration import load_calibration_set
from se_deploy.precision.fp16 import convert_fp16
from se_deploy.precision.fp16_mixed import convert_fp16_mixed
from se_deploy.precision.image_input import check_image_input
from se_deploy.precision.int8 import CALIBRATION_METHODS, QUANT_PRESETS, quantize_int8
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.normalize import normalize
from se_deploy.rewrite.surgery import fuse_se

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Preparation:
    """How to prepare: the build options every backend shares."""

    precision: str = "fp32"
    fuse: bool = True
    residual: bool = True
    se_precision: str = "fp16"  # fp16 builds: the fused SE node in fp16 or fp32
    calib: Path | None = None
    calib_samples: int = 256
    calib_method: str = "minmax"
    quant_target: str = "onnxruntime"  # whose INT8 settings: onnxruntime (U8S8) or tensorrt (S8S8)
    quantize_se: bool = False
    input_shapes: dict[str, Shape] | None = None  # --input-shape; else the model's fixed dims or metadata
    fp16_mode: str = "full"  # full: every op FP16; mixed: onnxconverter-common keeps the offending ops FP32
    calib_fit: str = "crop"  # aspect-ratio policy fitting calibration images to the input (data/fit.py)

    def validate(self) -> None:
        if self.precision not in PRECISIONS:
            raise InvalidArgumentError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if self.precision == "int8":
            if self.calib is None:
                raise InvalidArgumentError(
                    "--precision int8 needs calibration images: pass --calib DIR (an image folder)"
                )
            if self.calib_method not in CALIBRATION_METHODS:
                raise InvalidArgumentError(f"--calib-method must be one of {', '.join(CALIBRATION_METHODS)}")
            if self.quant_target not in QUANT_PRESETS:
                raise InvalidArgumentError(f"--quant-target must be one of {', '.join(QUANT_PRESETS)}")
        if self.se_precision not in ("fp16", "fp32"):
            raise InvalidArgumentError("--se-precision must be fp16 or fp32")
        if self.fp16_mode not in ("full", "mixed"):
            raise InvalidArgumentError("--fp16-mode must be full or mixed")
        if self.calib_fit not in FIT_POLICIES:
            raise InvalidArgumentError(f"--calib-fit must be one of {', '.join(FIT_POLICIES)}")


@dataclass(frozen=True)
class PreparedModel:
    model: onnx.ModelProto  # fused (where asked and found), precision written in, se-deploy metadata embedded
    fused: bool
    se_blocks: int
    precision_details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def calibration_input_shape(source: onnx.ModelProto, preparation: Preparation, path: Path) -> Shape:
    """The (N, 3, H, W) input INT8 calibration feeds; refuses a model that takes no image batch, for every backend."""
    check_image_input(source, path)
    input_shape = next(iter(resolve_input_shapes(source, preparation.input_shapes, batch=1).values()), ())
    if len(input_shape) != 4 or input_shape[1] != 3:
        raise InvalidArgumentError(
            f"INT8 calibration feeds NCHW RGB images, but the model's input has shape {list(input_shape)}; "
            "build this model in fp32 or fp16"
        )
    return input_shape


def prepare_model(
    source: onnx.ModelProto,
    preparation: Preparation,
    progress: Progress = lambda _m: None,
    *,
    source_path: Path,
) -> PreparedModel:
    """``source`` (read from ``source_path``) fused and converted to ``preparation.precision``; left unchanged."""
    preparation.validate()
    if preparation.precision == "int8":  # before any work: INT8 calibration needs an image model
        input_shape = calibration_input_shape(source, preparation, source_path)
    notes: list[str] = []
    fused = False
    model = source
    quantize_unfused = preparation.precision == "int8" and preparation.quantize_se
    if preparation.fuse and not quantize_unfused:
        progress("finding and fusing SE blocks")
        surgery = fuse_se(source, residual=preparation.residual)  # matches once; its report counts the blocks
        se_blocks = len(surgery.report.blocks)
        if se_blocks:
            model, fused = surgery.model, True
    else:
        se_blocks = len(find_se_blocks(normalize(source).model).blocks)
    if preparation.calib is not None and preparation.precision != "int8":
        notes.append(f"--calib is used only by --precision int8: ignored for {preparation.precision}")
    if se_blocks == 0:
        notes.append("the model has no SE blocks: built as it is")
    elif quantize_unfused:
        notes.append("--quantize-se: SE blocks left unfused so their ops get Q/DQ like the rest")

    details: dict[str, Any] = {}
    if preparation.precision == "fp16":
        progress("converting to FP16")
        if preparation.fp16_mode == "mixed":
            progress("converting to mixed FP16/FP32 (onnxconverter-common auto_convert_mixed_precision)")
            result = convert_fp16_mixed(model, shapes=preparation.input_shapes)
        else:
            result = convert_fp16(model, se_precision=preparation.se_precision)
        model = result.model
        details = {
            "fp16_mode": preparation.fp16_mode,
            "keep_io_types": True,
            "se_precision": preparation.se_precision,
            "kept_fp32_ops": result.kept_fp32_ops,
            "casts": result.casts,
        }
    elif preparation.precision == "int8":
        assert preparation.calib is not None
        preprocessing = model_metadata.preprocessing_of(source)
        if preprocessing is None:
            preprocessing = model_metadata.default_preprocessing(source)
            notes.append(
                f"no se-deploy preprocessing in the model: calibrating with ImageNet mean/std at {preprocessing.crop_size}px"
            )
        progress(f"reading calibration images from {preparation.calib}")
        calibration = load_calibration_set(
            preparation.calib,
            preprocessing,
            samples=preparation.calib_samples,
            size=(input_shape[2], input_shape[3]),
            fit=preparation.calib_fit,
        )
        notes.extend(calibration.notes)
        progress(f"calibrating ({preparation.calib_method}, {calibration.samples} images) and quantizing")
        quantized = quantize_int8(
            model,
            calibration,
            settings=QUANT_PRESETS[preparation.quant_target],
            method=preparation.calib_method,
            quantize_se=preparation.quantize_se,
        )
        model = quantized.model
        if quantized.se_inlined:
            notes.append(
                f"INT8 for {preparation.quant_target}: the {quantized.se_inlined} fused SE nodes were inlined before "
                "quantizing (the runtime inlines them anyway): the SE is quantized like the stock graph's"
            )
        details = quantized.to_dict() | {
            "calibration_samples": calibration.samples,
            "calibration_folder": str(preparation.calib),
            "calibration_selection": calibration.selection(),
        }
    if model is source:
        model = onnx.ModelProto()
        model.CopyFrom(source)
    model_metadata.embed(model, {"engine_precision": preparation.precision, "se_fused": fused})
    return PreparedModel(model, fused, se_blocks, details, notes)
