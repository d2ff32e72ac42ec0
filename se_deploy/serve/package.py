"""``se-deploy package``: a Triton Inference Server model repository from several models or engines.

Each entry becomes ``<repo>/<name>/config.pbtxt`` + ``<repo>/<name>/1/model.onnx`` (platform
``onnxruntime_onnx``), or ``1/model.plan`` (``tensorrt_plan``, from the plan's sidecar) for TensorRT plans.
Every config is parsed into Triton's own ``ModelConfig`` protobuf before anything is written, when
``tritonclient`` is installed (``pip install 'se-deploy[serve]'``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import onnx

import se_deploy
from se_deploy import model_metadata
from se_deploy.backends.engine_folder import ENGINE_FILENAME, EngineDescription
from se_deploy.backends.tensorrt.artifact import PlanMetadata
from se_deploy.backends.tensorrt.artifact import recognizes as is_plan_file
from se_deploy.errors import InvalidArgumentError
from se_deploy.fileio import atomic_write_text, created_dirs, replace_dir, sha256_of, staging_dir
from se_deploy.onnx_io import load_onnx
from se_deploy.output_guard import PACKAGE_SCHEMA, REPOSITORY_ENTRY, check_output
from se_deploy.repository import ModelPaths, ServingOptions, TensorSpec, parse_triton_config, triton_config

_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16"}
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class PackagedModel:
    name: str
    source: str
    config: str
    validated: bool


def model_name_for(path: Path) -> str:
    """Default repository name: the engine's model and precision, or the ONNX file's model name."""
    if is_plan_file(path):
        return path.stem
    if path.is_dir() and (path / ENGINE_FILENAME).exists():
        description = EngineDescription.read(path)
        base = description.model_name or path.name
        return f"{base}_{description.precision}" + ("_fused" if description.fused else "")
    facts = model_metadata.read(load_onnx(path))
    return facts.get("model") or path.stem


def _model_file(path: Path) -> Path:
    if path.is_dir():
        return path / EngineDescription.read(path).model_file
    return path


_PLUGIN_NOTES = {
    "aot": "SE plugin compiled into the plan (AOT): nothing to load, Triton's TensorRT backend runs it as is",
    "jit": "JIT SE plugin: it runs Python at run time, which Triton's C++ TensorRT backend cannot: rebuild with the AOT plugin",
    "none": "SE blocks inlined as standard layers (built with --no-plugin): no plugin needed",
}


def _marker(source: Path, model_file: Path) -> str:
    """``se_deploy.json`` of a packaged entry: says se-deploy wrote it (what ``--force`` may replace) and from what."""
    record = {
        "schema": PACKAGE_SCHEMA,
        "written_by": "se-deploy package",
        "source": str(source.absolute()),
        "source_sha256": sha256_of(model_file),
        "se_deploy": se_deploy.__version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return json.dumps(record, indent=2) + "\n"


_NATIVE_NOTE = (
    "# SE-native graphs not packaged: they are tied to the build machine's ONNX Runtime and CPU (engine.json),\n"
    "# and Triton's ONNX Runtime backend brings its own ORT; this serves the engine's portable fused graph.\n"
)


_BATCH_PARALLEL_NOTE = (
    "# batch-parallel engine (engine.json): se_deploy.load splits a batch across CPU cores, one intra-op thread\n"
    "# per slice; Triton's ONNX Runtime backend runs whole batches (its nearest setting, one instance per core\n"
    "# with intra_op_thread_count 1, is not written: not measured here).\n"
)


def plan_config(plan: Path, name: str, options: ServingOptions) -> str:
    """``tensorrt_plan`` config from the plan's sidecar (no TensorRT needed to write it)."""
    meta = PlanMetadata.read(plan)
    if not meta.num_classes:
        raise InvalidArgumentError(
            f"the sidecar of {str(plan)!r} lacks the output size; rebuild the plan with this se-deploy"
        )
    inputs = [TensorSpec(meta.input_name, "float32", (-1, *meta.input_shape))]
    outputs = [TensorSpec(meta.output_name, "float32", (-1, meta.num_classes))]
    plan_options = dataclasses.replace(
        options, platform="tensorrt_plan", kind="KIND_GPU", max_batch_size=min(options.max_batch_size, meta.batch.max)
    )
    notes = (
        _PLUGIN_NOTES.get(meta.plugin, meta.plugin),
        f"built with TensorRT {meta.tensorrt_version} for {meta.gpu_name} (sm {meta.compute_capability})",
    )
    return triton_config(name, inputs, outputs, options=plan_options, notes=notes)


def config_for(model: onnx.ModelProto, name: str, options: ServingOptions) -> str:
    inputs = [
        _spec(value) for value in model.graph.input if value.name not in {i.name for i in model.graph.initializer}
    ]
    outputs = [_spec(value) for value in model.graph.output]
    notes = []
    if any(node.domain == "se_deploy" for node in model.graph.node):
        notes.append("SE blocks are se_deploy fused nodes; ONNX Runtime runs them through the model-local functions")
    return triton_config(name, inputs, outputs, options=options, notes=tuple(notes))


def _spec(value: onnx.ValueInfoProto) -> TensorSpec:
    tensor = value.type.tensor_type
    if tensor.elem_type not in _DTYPES:
        raise InvalidArgumentError(
            f"tensor {value.name!r} has element type {tensor.elem_type}; se-deploy packages float models"
        )
    shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim)
    if any(d == -1 for d in shape[1:]):
        raise InvalidArgumentError(
            f"tensor {value.name!r} has dynamic non-batch dimensions {shape}; export with a fixed image size"
        )
    return TensorSpec(value.name, _DTYPES[tensor.elem_type], shape)


def package(
    sources: list[Path],
    output: Path,
    *,
    names: list[str] | None = None,
    options: ServingOptions | None = None,
    force: bool = False,
    validate: bool = True,
) -> list[PackagedModel]:
    """Write every source into the repository ``output``; all or nothing."""
    options = options or ServingOptions()
    if not sources:
        raise InvalidArgumentError("give at least one ONNX model or engine folder to package")
    if names and len(names) != len(sources):
        raise InvalidArgumentError(f"{len(names)} --name values for {len(sources)} models; give one per model or none")
    if options.max_batch_size < 1:
        raise InvalidArgumentError("--max-batch must be at least 1")
    chosen = names or [model_name_for(path) for path in sources]
    for name in chosen:
        if not _NAME.match(name):
            raise InvalidArgumentError(f"model name {name!r} may only use letters, digits, '.', '_' and '-'")
    duplicates = {n for n in chosen if chosen.count(n) > 1}
    if duplicates:
        raise InvalidArgumentError(f"two models would be named {', '.join(sorted(duplicates))}; pass --name for each")
    for name in chosen:
        check_output(output / name, REPOSITORY_ENTRY, force=force, inputs=sources)
    with created_dirs(output) as root:
        return _write(sources, chosen, root, options, validate)


def _write(
    sources: list[Path], chosen: list[str], root: Path, options: ServingOptions, validate: bool
) -> list[PackagedModel]:
    packaged = []
    with staging_dir(root) as staging:
        for source, name in zip(sources, chosen, strict=True):
            model_file = _model_file(source)
            is_plan = is_plan_file(model_file)
            text = (
                plan_config(model_file, name, options) if is_plan else config_for(load_onnx(model_file), name, options)
            )
            description = EngineDescription.read(source) if source.is_dir() else None
            if description and description.native:
                text = _NATIVE_NOTE + text
            if description and (description.batch_parallel or {}).get("enabled"):
                text = _BATCH_PARALLEL_NOTE + text
            validated = False
            if validate:
                try:
                    parse_triton_config(text)
                    validated = True
                except ImportError:
                    pass  # tritonclient not installed: written unvalidated, and said so
                except Exception as exc:  # protobuf's ParseError: a bug in the writer, never the user's input
                    raise InvalidArgumentError(
                        f"generated config for {name!r} does not parse as Triton's ModelConfig: {exc}"
                    ) from exc
            staged = ModelPaths(staging, name)
            staged.model.parent.mkdir(parents=True)
            shutil.copyfile(model_file, staged.model.with_name("model.plan") if is_plan else staged.model)
            atomic_write_text(staged.config, text)
            atomic_write_text(staged.metadata, _marker(source, model_file))
            packaged.append(PackagedModel(name, str(source), text, validated))
        for item in packaged:
            replace_dir(staging / item.name, root / item.name, staging)
    return packaged
