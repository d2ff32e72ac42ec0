"""``se-deploy build --backend tensorrt``: precision-converted, SE-fused ONNX -> strongly typed TensorRT plan.

The ONNX preparation (fuse, precision, lowering to the plugin nodes) and every decision that does not
need TensorRT (batch profile, network flags, sidecar) are plain Python and tested; the TensorRT calls
(parser, builder config, timing cache, serialization) follow NVIDIA's documented Python API for 10.x and
11.x and have NOT run here: TensorRT cannot be installed on this project's machines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from se_deploy.backends.tensorrt.lowering import lower_for_tensorrt
from se_deploy.backends.tensorrt.metadata import BatchRange, PlanMetadata, format_parser_errors, network_flags
from se_deploy.backends.tensorrt.plugin import import_tensorrt, register_plugins
from se_deploy.errors import ExportError, InvalidArgumentError
from se_deploy.fileio import atomic_write_bytes
from se_deploy.models.checkpoint import sha256_of
from se_deploy.output_guard import PLAN_FILE, check_output
from se_deploy.rewrite.job import load_onnx


@dataclass(frozen=True)
class TensorRTBuildRequest:
    model: Path  # an engine folder's model.onnx or any ONNX (precision already written in)
    output: Path  # model.plan
    precision: str = "fp16"
    batch: BatchRange = field(default_factory=lambda: BatchRange(1, 8, 32))
    plugin: str = "aot"  # aot | jit | none (the fused nodes' ONNX functions are inlined)
    workspace_mib: int = 4096
    optimization_level: int = 3
    timing_cache: Path | None = None
    force: bool = False


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


def validate_request(request: TensorRTBuildRequest) -> None:
    check_output(request.output, PLAN_FILE, force=request.force, inputs=[request.model])
    if request.workspace_mib < 64:
        raise InvalidArgumentError("--workspace must be at least 64 MiB")
    if not 0 <= request.optimization_level <= 5:
        raise InvalidArgumentError("--opt-level must be within 0..5 (TensorRT's builder optimization level)")


def build_tensorrt_plan(request: TensorRTBuildRequest) -> PlanMetadata:  # pragma: no cover - needs TensorRT and a GPU
    validate_request(request)
    trt = import_tensorrt()  # the clear "install the extra" error comes first, before any work
    source = load_onnx(request.model)
    prepared, lowered = prepare_onnx(source, request.plugin)
    name, shape = input_shape(prepared)
    shapes = request.batch.shapes(shape)
    if request.plugin != "none":
        register_plugins()

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flag_names = {n: int(v) for n, v in trt.NetworkDefinitionCreationFlag.__members__.items()}
    network = builder.create_network(network_flags(trt.__version__, flag_names))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(prepared.SerializeToString()):
        errors = [parser.get_error(i) for i in range(parser.num_errors)]
        raise ExportError(f"TensorRT's ONNX parser failed: {format_parser_errors(errors)}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, request.workspace_mib << 20)
    config.builder_optimization_level = request.optimization_level
    profile = builder.create_optimization_profile()
    profile.set_shape(name, *shapes)
    config.add_optimization_profile(profile)
    cache_bytes = request.timing_cache.read_bytes() if request.timing_cache and request.timing_cache.exists() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ExportError("TensorRT could not build the engine (see its log above)")
    atomic_write_bytes(request.output, bytes(plan))
    if request.timing_cache:
        atomic_write_bytes(request.timing_cache, bytes(cache.serialize()))
    import torch

    major, minor = torch.cuda.get_device_capability()
    meta = PlanMetadata(
        tensorrt_version=trt.__version__,
        gpu_name=torch.cuda.get_device_name(),
        compute_capability=f"{major}.{minor}",
        precision=request.precision,
        se_fused=lowered > 0 or request.plugin == "none",
        plugin=request.plugin,
        input_name=name,
        batch=request.batch,
        input_shape=[int(d) for d in shape[1:] if d is not None],
        source_sha256=sha256_of(request.model),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    meta.write(request.output)
    return meta
