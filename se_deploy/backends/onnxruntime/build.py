"""``se-deploy build --backend onnxruntime``: source ONNX -> prepared (``prepare.py``) -> engine folder.

The backend-neutral preparation (fuse, precision) comes in the ``BuildRequest``; ONNX Runtime's own
options (device, SE-native graphs) in ``OnnxRuntimeOptions``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import onnx

import se_deploy
from se_deploy import model_metadata
from se_deploy.backends.base import BuildRequest, BuildResult
from se_deploy.backends.engine_folder import ENGINE_FILENAME, MODEL_FILENAME, EngineDescription
from se_deploy.backends.onnxruntime.artifact import BACKEND_NAME, providers_for
from se_deploy.backends.onnxruntime.batch_parallel import available_cores, check_option, plan_for, timed_plan
from se_deploy.backends.onnxruntime.native.build import (
    NATIVE_DIR,
    NativeBuild,
    NativeVerificationError,
    build_native,
    unavailable_reason,
    verify_written,
)
from se_deploy.backends.onnxruntime.native.int8_build import build_native_int8, int8_unavailable_reason
from se_deploy.backends.onnxruntime.native.platform import current_platform
from se_deploy.backends.onnxruntime.runner import session_factory
from se_deploy.errors import InvalidArgumentError
from se_deploy.fileio import atomic_write_text, created_dirs, replace_dir, sha256_of, staging_dir
from se_deploy.image_like import image_like_inputs
from se_deploy.onnx_compare import batch_is_dynamic
from se_deploy.onnx_io import load_onnx
from se_deploy.output_guard import ENGINE_DIR, check_output
from se_deploy.precision.fidelity import measure_fidelity
from se_deploy.prepare import prepare_model


@dataclass(frozen=True)
class OnnxRuntimeOptions:
    """ONNX Runtime's own build options; the model, output and ``Preparation`` are the ``BuildRequest``'s."""

    device: str = "cpu"
    native: bool = True  # FP32 CPU: also write SE-native graphs (see backends/onnxruntime/native)
    max_batch: int = 8  # SE-native: batch buckets 1, 2, 4, ... max_batch
    hoist_squeeze: bool = False  # SE-native: squeeze before a linear 1x1 conv where exact (slower as written)
    fold_gate: bool = True  # SE-native: the gate folded into conv3's weights where exact and cheaper (fold.py)
    batch_parallel: str = "auto"  # auto|on|off: run batches as per-core slices (batch_parallel.py)


@dataclass(frozen=True)
class OnnxRuntimeBuild:
    engine_dir: Path
    description: EngineDescription
    fidelity: dict[str, object] = field(default_factory=dict)


Progress = Callable[[str], None]


def validate(request: BuildRequest, options: OnnxRuntimeOptions) -> None:
    request.preparation.validate()
    if options.max_batch < 1:
        raise InvalidArgumentError(f"--max-batch must be at least 1, got {options.max_batch}")
    check_option(options.batch_parallel, options.device)


def build_onnxruntime_engine(
    request: BuildRequest, options: OnnxRuntimeOptions = OnnxRuntimeOptions(), progress: Progress = lambda _m: None
) -> OnnxRuntimeBuild:
    validate(request, options)
    providers = providers_for(options.device)
    calib = request.preparation.calib
    inputs = [request.model] + ([calib] if calib else [])
    check_output(request.output, ENGINE_DIR, force=request.force, inputs=inputs)
    source = load_onnx(request.model)
    with created_dirs(request.output.parent if str(request.output.parent) else Path(".")) as parent:
        return _build(request, options, source, providers, parent, progress)


def _build(
    request: BuildRequest,
    options: OnnxRuntimeOptions,
    source: onnx.ModelProto,
    providers: list[str],
    parent: Path,
    progress: Progress,
) -> OnnxRuntimeBuild:
    facts = model_metadata.read(source)
    # fuse + precision, as for every backend (se_deploy/prepare.py)
    prepared = prepare_model(source, request.preparation, progress, source_path=request.model)
    model, fused, se_blocks, details = prepared.model, prepared.fused, prepared.se_blocks, prepared.precision_details
    notes = list(prepared.notes)
    precision, device = request.preparation.precision, options.device
    if precision == "int8" and device != "cpu":
        notes.append(
            "INT8 Q/DQ on a GPU execution provider: ONNX Runtime's CUDA EP dequantizes most ops; TensorRT is the INT8 GPU path"
        )

    native = None
    if options.native and fused:
        native = _native_graphs(precision, options, source, model, se_blocks, notes, progress)
    parallel = plan_for(
        options.batch_parallel,
        precision=precision,
        device=device,
        fused=fused,
        se_blocks=se_blocks,
        dynamic_batch=batch_is_dynamic(model),
    )

    progress("checking the engine runs")
    measured = measure_fidelity(source, model, shapes=request.preparation.input_shapes)
    warning = measured.warning(precision)
    if warning:
        notes.append(warning)
    import onnxruntime

    description = EngineDescription(
        backend=BACKEND_NAME,
        precision=precision,
        device=device,
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
        batch_parallel=parallel.to_dict(),
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
            if native.weights is not None:
                (staged / native.weights_file).write_bytes(native.weights.data)
            progress("checking the SE-native graphs as written")
            verify_written(staged, native, model if precision == "int8" else source)
        sample = tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:])
        if parallel.enabled and options.batch_parallel == "auto" and sample and all(sample):
            progress("timing batches whole and as per-core slices")
            factory = session_factory(model, staged, description, providers, spinning=False)
            feeds = {model.graph.input[0].name: image_like_inputs((2 * available_cores(), *sample), seed=0)}
            parallel = timed_plan(parallel, factory, feeds)
            description = dataclasses.replace(description, batch_parallel=parallel.to_dict())
        if parallel.enabled or parallel.timing:
            choose = " (--batch-parallel on|off to choose)" if options.batch_parallel == "auto" else ""
            notes.append(f"batch-parallel: {parallel.reason}{choose}")
        atomic_write_text(staged / ENGINE_FILENAME, description.to_json())
        replace_dir(staged, request.output, staging)
    return OnnxRuntimeBuild(request.output, description, measured.to_dict())


def _native_graphs(
    precision: str,
    options: OnnxRuntimeOptions,
    source: onnx.ModelProto,
    prepared: onnx.ModelProto,
    se_blocks: int,
    notes: list[str],
    progress: Progress,
) -> NativeBuild | None:
    """SE-native graphs for an FP32 or INT8 CPU engine, or None with the reason in ``notes``."""
    if precision not in ("fp32", "int8") or options.device != "cpu":
        notes.append("SE-native graphs are built for FP32 and INT8 CPU engines only: this engine is the portable one")
        return None
    if precision == "int8":
        reason = "--no-fold: the INT8 rewrite is the gate fold" if not options.fold_gate else None
        reason = reason or int8_unavailable_reason(prepared)
        if reason:
            notes.append(f"SE-native INT8 graph not built ({reason}): this engine is the portable one")
            return None
        try:
            native = build_native_int8(source, prepared, progress)
        except NativeVerificationError as exc:  # INT8 that cannot be verified: the portable engine is still right
            notes.append(f"SE-native INT8 graph not used, this engine is the portable one: {exc}")
            return None
    else:
        reason = unavailable_reason(source, current_platform())
        if reason:
            notes.append(f"SE-native graphs not built ({reason}): this engine is the portable one")
            return None
        native = build_native(
            source, max_batch=options.max_batch, hoist=options.hoist_squeeze, fold=options.fold_gate, progress=progress
        )
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


def build(request: BuildRequest, options: OnnxRuntimeOptions, progress: Progress = lambda _m: None) -> BuildResult:
    """The backend protocol's ``build``: an engine folder at ``request.output``, and what the CLI shows of it."""
    from se_deploy.backends.onnxruntime.native.report import native_summary

    result = build_onnxruntime_engine(request, options, progress)
    d, fidelity = result.description, result.fidelity
    top1 = fidelity["top1_agreement_random_inputs"]
    batch = next(iter(fidelity["input_shapes"].values()))[0]
    summary = [
        f"built {d.precision} ONNX Runtime engine ({d.device}) -> {request.output}\n"
        f"SE blocks: {d.se_blocks} ({'fused' if d.fused else 'not fused'}); "
        f"vs source FP32 on {fidelity['seeds'] * batch} image-like inputs: max abs error {fidelity['max_abs_error']:.3g}, "
        f"worst relative error {fidelity['worst_relative_error']:.2e}, "
        f"{fidelity['changed_fraction']:.2%} of output values changed"
        + (f", top-1 agreement {top1:.0%}" if top1 is not None else "")
    ]
    if d.native:
        summary.append(native_summary(d.native))
    report = json.loads(d.to_json()) | {"fidelity": fidelity}
    return BuildResult(request.output, summary, notes=list(d.notes), report=report)
