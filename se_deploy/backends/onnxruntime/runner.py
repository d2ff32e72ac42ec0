"""Load an ONNX Runtime engine folder (or a bare ONNX file) into a Runner.

The engine's execution providers are used (CPU for a bare ONNX file); an SE-native engine runs its
per-bucket graphs (``native/session.py``); an engine built with a batch-parallel plan runs a batch as
per-core slices (``batch_parallel.py``). One runner may be called from several threads (ONNX Runtime
sessions are safe for concurrent ``run`` calls).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from se_deploy import model_metadata
from se_deploy.backends.base import LoadOptions, Runner
from se_deploy.backends.engine_folder import ENGINE_FILENAME, EngineDescription
from se_deploy.backends.onnxruntime.batch_parallel import BatchParallelSession, available_cores
from se_deploy.backends.onnxruntime.native.session import session_options
from se_deploy.errors import InvalidArgumentError
from se_deploy.input_spec import InputSpec
from se_deploy.onnx_io import load_onnx

_NUMPY = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


@dataclass
class LoadedModel:
    model: onnx.ModelProto
    model_path: Path
    session: Any  # onnxruntime.InferenceSession (or the SE-native session)
    description: EngineDescription | None  # None for a bare ONNX file


def open_session(path: Path, *, threads: int | None = None, spinning: bool = True) -> LoadedModel:
    """A session with the engine's execution providers (CPU for a bare ONNX file).

    ``spinning=False`` stops idle intra-op threads from spinning: needed when several sessions share a
    process and are timed against each other (see DESIGN.md).
    """
    description = None
    providers = ["CPUExecutionProvider"]
    if path.is_dir() or path.name == ENGINE_FILENAME:
        folder = path if path.is_dir() else path.parent
        description = EngineDescription.read(folder)
        model_path = folder / description.model_file
        providers = description.providers
    else:
        model_path = path
    model = load_onnx(model_path)
    if description is not None and description.native:
        from se_deploy.backends.onnxruntime.native.session import check_platform

        check_platform(description.native, folder)

    session_with = session_factory(model, folder if description else None, description, providers, spinning)

    plan = (description.batch_parallel or {}) if description is not None else {}
    cores = threads or available_cores()
    if plan.get("enabled") and cores >= 2:
        return LoadedModel(model, model_path, BatchParallelSession(session_with, cores), description)
    return LoadedModel(model, model_path, session_with(threads), description)


def session_factory(
    model: onnx.ModelProto,
    folder: Path | None,
    description: EngineDescription | None,
    providers: list[str],
    spinning: bool,
) -> Callable[[int | None], Any]:
    """``threads -> session`` for an engine (its SE-native graphs when it has them) or a bare model."""

    def session_with(intra_threads: int | None) -> Any:
        if description is not None and description.native and folder is not None:
            from se_deploy.backends.onnxruntime.native.session import NativeSession

            files = {int(bucket): name for bucket, name in description.native["files"].items()}
            return NativeSession(folder, files, threads=intra_threads, spinning=spinning)
        import onnxruntime as ort

        options = session_options(optimize=True, threads=intra_threads, spinning=spinning)
        return ort.InferenceSession(model.SerializeToString(), options, providers=providers)

    return session_with


class OnnxRuntimeRunner(Runner):
    """``runner(batch) -> first output``; ``runner.preprocess(image) -> one input sample``."""

    def __init__(
        self,
        path: Path,
        *,
        threads: int | None = None,
        max_batch: int | None = None,
        allow_nonfinite: bool = False,
        spinning: bool = False,  # spinning threads steal cores from anything else measured in this process
    ) -> None:
        loaded = open_session(path, threads=threads, spinning=spinning)
        self.source = str(path)
        self.model: onnx.ModelProto = loaded.model
        self.model_path = loaded.model_path
        self.session = loaded.session
        self.description: EngineDescription | None = loaded.description
        self.allow_nonfinite = allow_nonfinite
        self.preprocessing = model_metadata.preprocessing_of(self.model) or model_metadata.default_preprocessing(
            self.model
        )
        first = self.session.get_inputs()[0]
        if first.type not in _NUMPY:
            raise InvalidArgumentError(
                f"{self.source}: input {first.name!r} has type {first.type}; se-deploy serves float image models"
            )
        shape = tuple(d if isinstance(d, int) else None for d in first.shape)
        fixed_batch = shape[0]
        self.input_spec = InputSpec(
            name=first.name,
            dtype=np.dtype(_NUMPY[first.type]),
            shape=shape,
            min_batch=fixed_batch or 1,
            max_batch=fixed_batch or max_batch,
        )
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __repr__(self) -> str:
        return f"OnnxRuntimeRunner({self.source!r}, {self.input_spec.describe()})"

    def _run(self, batch: np.ndarray) -> np.ndarray:
        outputs = self.session.run(self.output_names[:1], {self.input_spec.name: batch})
        return np.asarray(outputs[0])

    def close(self) -> None:
        if isinstance(self.session, BatchParallelSession):
            self.session.close()
        self.session = None


def load(path: Path, options: LoadOptions) -> OnnxRuntimeRunner:
    """``se_deploy.load``: the batch limit is ``options.max_batch``, else the one the model's metadata records."""
    runner = OnnxRuntimeRunner(
        path, threads=options.threads, allow_nonfinite=options.allow_nonfinite, spinning=not options.timed
    )
    limit = options.max_batch or model_metadata.read(runner.model).get("max_batch")
    if limit and runner.input_spec.shape[0] is None:
        runner.input_spec = dataclasses.replace(runner.input_spec, max_batch=int(limit))
    return runner
