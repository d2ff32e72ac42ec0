"""``se-deploy build``: an ONNX model -> an engine folder (ONNX Runtime) or a TensorRT plan."""

from __future__ import annotations

from pathlib import Path

import click

from se_deploy.backends.registry import DEFAULT, backends_that
from se_deploy.cli.options import (
    choice_option,
    force_option,
    input_shape_option,
    json_option,
    model_argument,
    output_option,
    path_option,
    positive_int_option,
    user_errors,
)
from se_deploy.cli.progress import terminal_progress
from se_deploy.cli.render import (
    err,
    print_build_notes,
    print_json,
    print_lines,
)


@click.command("build")
@model_argument()
@output_option("Engine folder to write.", required=True)
@choice_option(
    "--backend",
    choices=list(backends_that("build")),
    default=DEFAULT,
    help="Engine backend (tensorrt writes a .plan: needs TensorRT and a GPU).",
)
@choice_option(
    "--precision", choices=["fp32", "fp16", "int8"], help="Precision written into the engine (int8 needs --calib)."
)
@choice_option(
    "--device",
    choices=["cpu", "cuda", "tensorrt"],
    help="ONNX Runtime execution provider (cuda/tensorrt need onnxruntime-gpu).",
)
@path_option("--calib", help="Calibration image folder (int8).")
@click.option("--calib-samples", type=int, default=256, show_default=True, help="Calibration images to use.")
@choice_option(
    "--calib-method",
    choices=["minmax", "entropy", "percentile"],
    help="INT8: how activation ranges are chosen from the calibration images.",
)
@click.option(
    "--quant-target",
    type=click.Choice(["onnxruntime", "tensorrt"]),
    default=None,
    help="Quantization settings for this runtime [default: the backend's].",
)
@click.option("--quantize-se", is_flag=True, help="INT8: quantize the SE ops too (unfused), to compare.")
@choice_option("--se-precision", choices=["fp16", "fp32"], help="FP16: precision of the fused SE node.")
@choice_option(
    "--fp16-mode",
    choices=["full", "mixed"],
    help="FP16: every op, or mixed (ops that break fidelity stay FP32; onnxconverter-common's search).",
)
@choice_option(
    "--calib-fit",
    choices=["resize", "pad", "crop"],
    default="crop",
    help="INT8: fit calibration images to the input's H x W by stretching, padding or center-cropping.",
)
@input_shape_option
@click.option("--no-fuse", is_flag=True, help="Keep the SE blocks as they are (the stock graph).")
@click.option("--no-residual", is_flag=True, help="Do not fold residual Add(+ReLU) into the fused node.")
@positive_int_option("--min-batch", default=1, help="TensorRT: optimization profile minimum batch.")
@positive_int_option("--opt-batch", default=8, help="TensorRT: batch the engine is tuned for.")
@positive_int_option(
    "--max-batch",
    help="Largest batch [TensorRT: 32, the profile's max; ONNX Runtime: 8, SE-native graphs for 1, 2, 4, .. it].",
)
@click.option(
    "--portable",
    is_flag=True,
    help="ONNX Runtime: only the portable fused graph, no SE-native graphs tied to this ORT version and CPU.",
)
@click.option(
    "--squeeze-hoist",
    is_flag=True,
    help="SE-native: squeeze before a linear 1x1 conv (exact; measured slower in its current form, see README).",
)
@click.option(
    "--no-fold",
    is_flag=True,
    help="SE-native: keep the SE gate as its own scaling pass instead of folding it into conv3's weights "
    "(INT8: no SE-native graph, the fold is its rewrite).",
)
@choice_option(
    "--batch-parallel",
    choices=["auto", "on", "off"],
    default="auto",
    help="ONNX Runtime CPU: run a batch as per-core slices, one intra-op thread each [auto: INT8 engines with "
    "fused SE blocks, whose SE scale ONNX Runtime runs on one thread].",
)
@click.option(
    "--no-plugin", is_flag=True, help="TensorRT: inline the fused nodes' ONNX functions instead of the SE plugin."
)
@force_option("Replace an existing engine folder (only one se-deploy wrote).")
@json_option("Print the engine description as JSON.")
@user_errors
def build_command(
    model: Path,
    output: Path,
    backend: str,
    precision: str,
    device: str,
    calib: Path | None,
    calib_samples: int,
    calib_method: str,
    quant_target: str | None,
    quantize_se: bool,
    se_precision: str,
    fp16_mode: str,
    calib_fit: str,
    input_shapes: tuple[str, ...],
    no_fuse: bool,
    no_residual: bool,
    min_batch: int,
    opt_batch: int,
    max_batch: int | None,
    portable: bool,
    squeeze_hoist: bool,
    no_fold: bool,
    batch_parallel: str,
    no_plugin: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Build an engine: fuse SE blocks, write FP32/FP16/INT8 into the ONNX, describe it for bench and serving."""
    from se_deploy.backends.base import BuildRequest
    from se_deploy.backends.registry import get_backend
    from se_deploy.input_shapes import parse_input_shapes
    from se_deploy.prepare import Preparation

    chosen = get_backend(backend)
    assert chosen.build is not None and chosen.options_from_cli is not None  # the --backend choices can build
    preparation = Preparation(
        precision=precision,
        fuse=not no_fuse,
        residual=not no_residual,
        se_precision=se_precision,
        calib=calib,
        calib_samples=calib_samples,
        calib_method=calib_method,
        quant_target=quant_target or chosen.quant_target,
        quantize_se=quantize_se,
        input_shapes=parse_input_shapes(input_shapes),
        fp16_mode=fp16_mode,
        calib_fit=calib_fit,
    )
    flags = {
        "device": device,
        "min_batch": min_batch,
        "opt_batch": opt_batch,
        "max_batch": max_batch,
        "portable": portable,
        "squeeze_hoist": squeeze_hoist,
        "no_fold": no_fold,
        "batch_parallel": batch_parallel,
        "no_plugin": no_plugin,
    }
    request = BuildRequest(model, output, preparation, force=force)
    with terminal_progress(err, quiet=as_json) as progress:
        result = chosen.build(request, chosen.options_from_cli(flags), progress)
    print_build_notes(result.notes)
    if as_json and result.report is not None:
        print_json(result.report)
        return
    print_lines(result.summary)
