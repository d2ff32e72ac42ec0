"""``se-deploy build --backend tensorrt``: source ONNX -> fused -> FP32/FP16/INT8 -> lowered -> strongly typed plan.

The ONNX preparation (fuse and precision as for every backend, ``se_deploy/prepare.py``; then lowering
to the plugin nodes) and every decision that does not need TensorRT (batch profile, network flags, the
sidecar with preprocessing and number of classes) are plain Python and tested; the TensorRT calls
(parser, builder config, timing cache, serialization) follow NVIDIA's documented Python API for 10.x and
11.x and have NOT run here: TensorRT cannot be installed on this project's machines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from se_deploy import model_metadata
from se_deploy.backends.base import BuildRequest, BuildResult
from se_deploy.backends.tensorrt.artifact import BatchRange, PlanMetadata, format_parser_errors, network_flags
from se_deploy.backends.tensorrt.plugin import import_tensorrt, register_plugins
from se_deploy.errors import ExportError, InvalidArgumentError
from se_deploy.fileio import atomic_write_bytes, sha256_of
from se_deploy.onnx_io import load_onnx
from se_deploy.output_guard import PLAN_FILE, check_output
from se_deploy.prepare import PreparedModel, Progress, prepare_model
from se_deploy.rewrite.plugin_lowering import lower_for_tensorrt


@dataclass(frozen=True)
class TensorRTOptions:
    """TensorRT's own build options; the model, output and ``Preparation`` are the ``BuildRequest``'s."""

    batch: BatchRange = field(default_factory=lambda: BatchRange(1, 8, 32))
    plugin: str = "aot"  # aot | jit | none (the fused nodes' ONNX functions are inlined)
    workspace_mib: int = 4096
    optimization_level: int = 3
    timing_cache: Path | None = None


@dataclass(frozen=True)
class PreparedPlan:
    """Everything decided before TensorRT is called: the ONNX it parses and what the sidecar says."""

    model: onnx.ModelProto  # fused, precision written in, lowered to the plugin nodes (or inlined)
    prepared: PreparedModel
    lowered: int  # fused nodes lowered to plugin nodes (0 with plugin "none")
    input_name: str
    input_shape: tuple[int | None, ...]
    output_name: str
    num_classes: int | None
    preprocessing: dict[str, Any]
    notes: list[str]


def prepare_onnx(model: onnx.ModelProto, plugin: str) -> tuple[onnx.ModelProto, int]:
    """The ONNX TensorRT will parse: fused nodes lowered to plugin nodes, or inlined for ``none``."""
    if plugin not in ("aot", "jit", "none"):
        raise InvalidArgumentError(f"--plugin must be aot, jit or none, got {plugin!r}")
    if plugin == "none":
        import onnx.inliner

        return onnx.inliner.inline_local_functions(model), 0
    return lower_for_tensorrt(model, aot=plugin == "aot")


def input_shape(model: onnx.ModelProto) -> tuple[str, tuple[int | None, ...]]:
    first = model.graph.input[0]
    dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in first.type.tensor_type.shape.dim)
    return first.name, dims


def output_classes(model: onnx.ModelProto) -> tuple[str, int | None]:
    """The first output's name and its last dimension (the number of classes) when it is fixed."""
    first = model.graph.output[0]
    dims = first.type.tensor_type.shape.dim
    return first.name, (dims[-1].dim_value if dims and dims[-1].HasField("dim_value") else None)


def validate_request(request: BuildRequest, options: TensorRTOptions) -> None:
    check_output(request.output, PLAN_FILE, force=request.force, inputs=[request.model])
    if options.workspace_mib < 64:
        raise InvalidArgumentError("--workspace must be at least 64 MiB")
    if not 0 <= options.optimization_level <= 5:
        raise InvalidArgumentError("--opt-level must be within 0..5 (TensorRT's builder optimization level)")
    if options.plugin not in ("aot", "jit", "none"):
        raise InvalidArgumentError(f"--plugin must be aot, jit or none, got {options.plugin!r}")
    request.preparation.validate()


def prepare_plan(request: BuildRequest, options: TensorRTOptions, progress: Progress = lambda _m: None) -> PreparedPlan:
    """The same preparation as every backend (``se_deploy/prepare.py``), then TensorRT's lowering. No TensorRT."""
    source = load_onnx(request.model)
    prepared = prepare_model(source, request.preparation, progress, source_path=request.model)
    model, lowered = prepare_onnx(prepared.model, options.plugin)
    name, shape = input_shape(model)
    options.batch.shapes(shape)  # refuses shapes a batch profile cannot describe, before TensorRT is needed
    output_name, num_classes = output_classes(model)
    notes = list(prepared.notes)
    preprocessing = model_metadata.preprocessing_of(source)
    if preprocessing is None:
        preprocessing = model_metadata.default_preprocessing(source)
        notes.append(
            f"no se-deploy preprocessing in the model: ImageNet mean/std at {preprocessing.crop_size}px assumed"
        )
    if num_classes is None:
        notes.append(f"output {output_name!r} has no fixed last dimension: the number of classes is unknown")
    return PreparedPlan(model, prepared, lowered, name, shape, output_name, num_classes, preprocessing.to_dict(), notes)


def plan_metadata(
    request: BuildRequest,
    options: TensorRTOptions,
    plan: PreparedPlan,
    *,
    tensorrt_version: str,
    gpu_name: str,
    compute_capability: str,
    created: str | None = None,
) -> PlanMetadata:
    """The plan's sidecar: what it was built from and for, and what serving needs (classes, preprocessing)."""
    return PlanMetadata(
        tensorrt_version=tensorrt_version,
        gpu_name=gpu_name,
        compute_capability=compute_capability,
        precision=request.preparation.precision,
        se_fused=plan.lowered > 0,  # the SE runs as our plugins; "none" inlines the functions back to plain ops
        plugin=options.plugin,
        input_name=plan.input_name,
        batch=options.batch,
        input_shape=[int(d) for d in plan.input_shape[1:] if d is not None],
        source_sha256=sha256_of(request.model),
        created=created or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        notes=plan.notes,
        preprocessing=plan.preprocessing,
        output_name=plan.output_name,
        num_classes=plan.num_classes,
    )


def build_tensorrt_plan(
    request: BuildRequest, options: TensorRTOptions = TensorRTOptions(), progress: Progress = lambda _m: None
) -> PlanMetadata:
    validate_request(request, options)
    trt = import_tensorrt()  # the clear "install the extra" error comes first, before any work
    plan = prepare_plan(request, options, progress)
    serialized, cache = _build_serialized(trt, options, plan)  # pragma: no cover - needs TensorRT and a GPU
    atomic_write_bytes(request.output, serialized)
    if options.timing_cache and cache is not None:
        atomic_write_bytes(options.timing_cache, cache)
    import torch

    major, minor = torch.cuda.get_device_capability()
    meta = plan_metadata(
        request,
        options,
        plan,
        tensorrt_version=trt.__version__,
        gpu_name=torch.cuda.get_device_name(),
        compute_capability=f"{major}.{minor}",
    )
    meta.write(request.output)
    return meta


def build(
    request: BuildRequest, options: TensorRTOptions, progress: Progress = lambda _m: None
) -> BuildResult:  # pragma: no cover - needs TensorRT and a GPU
    """The backend protocol's ``build``: a plan and its sidecar at ``request.output``."""
    meta = build_tensorrt_plan(request, options, progress)
    line = f"built TensorRT {meta.tensorrt_version} plan for {meta.gpu_name} -> {request.output}"
    return BuildResult(request.output, [line], notes=list(meta.notes))


def _build_serialized(  # pragma: no cover - needs TensorRT and a GPU
    trt: Any, options: TensorRTOptions, plan: PreparedPlan
) -> tuple[bytes, bytes | None]:
    """TensorRT's parser and builder (NVIDIA's documented API for 10.x/11.x; never run here)."""
    if plan.lowered:
        register_plugins()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flag_names = {n: int(v) for n, v in trt.NetworkDefinitionCreationFlag.__members__.items()}
    network = builder.create_network(network_flags(trt.__version__, flag_names))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(plan.model.SerializeToString()):
        errors = [parser.get_error(i) for i in range(parser.num_errors)]
        raise ExportError(f"TensorRT's ONNX parser failed: {format_parser_errors(errors)}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)
    config.builder_optimization_level = options.optimization_level
    profile = builder.create_optimization_profile()
    profile.set_shape(plan.input_name, *options.batch.shapes(plan.input_shape))
    config.add_optimization_profile(profile)
    cache_bytes = options.timing_cache.read_bytes() if options.timing_cache and options.timing_cache.exists() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError("TensorRT could not build the engine (see its log above)")
    return bytes(serialized), bytes(cache.serialize()) if options.timing_cache else None
