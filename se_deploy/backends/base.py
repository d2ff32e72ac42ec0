"""The backend protocol: what every backend folder provides, and the one life cycle of its runners.

A backend (``backends/<name>/backend.py``) is a ``Backend`` value: how to recognise its artifact, how to
``build`` one from a source ONNX and the backend-neutral ``Preparation`` (plus its own options
dataclass), how to ``load`` one into a ``Runner``, and what ``bench`` measures with it. The registry
(``registry.py``) maps names to these values. A ``Runner`` checks every batch in shared code (``infer``)
before the backend's ``_run`` sees it, as Polygraphy's runners validate inputs against their metadata.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from se_deploy.errors import InvalidArgumentError

if TYPE_CHECKING:  # numpy and the stages: not imported by the registry and the CLI's start-up (backend lists)
    import numpy as np

    from se_deploy.input_spec import InputSpec
    from se_deploy.prepare import Preparation
    from se_deploy.preprocessing import Preprocessing

Progress = Callable[[str], None]
# The networks ``bench`` compares on every backend (bench/variants.py makes their ONNX files).
STOCK, FUSED, TWIN, BASELINE = "stock", "fused", "twin", "baseline"
FUSED_PORTABLE = "fused-portable"  # the fused graph without SE-native graphs (what ORT runs anywhere)


class Runner:
    """A loaded model: ``runner(batch) -> first output``; inputs checked once, here, for every backend.

    Subclasses set ``input_spec`` (and ``preprocessing`` where the model's preprocessing is known) in
    ``__init__`` and implement ``_run(batch)``; ``close()`` releases what they hold.
    """

    input_spec: InputSpec
    preprocessing: Preprocessing | None = None
    allow_nonfinite: bool = False  # NaN/Inf inputs refused unless allowed (at load or per call)

    def check(self, batch: Any, *, allow_nonfinite: bool | None = None) -> np.ndarray:
        """Raise InvalidArgumentError unless ``batch`` fits ``input_spec``; returns it unchanged."""
        from se_deploy.input_spec import check_input  # numpy: see the TYPE_CHECKING imports above

        allowed = self.allow_nonfinite if allow_nonfinite is None else allow_nonfinite
        return check_input(self.input_spec, batch, allow_nonfinite=allowed)

    def infer(self, batch: np.ndarray, *, allow_nonfinite: bool | None = None) -> np.ndarray:
        return self._run(self.check(batch, allow_nonfinite=allow_nonfinite))

    def __call__(self, batch: np.ndarray, *, allow_nonfinite: bool | None = None) -> np.ndarray:
        return self.infer(batch, allow_nonfinite=allow_nonfinite)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def preprocess(self, image: Any) -> np.ndarray:
        """A PIL image, uint8 H x W x 3 array or image path -> one (3, H, W) sample in the runner's dtype."""
        if self.preprocessing is None:
            raise InvalidArgumentError(f"{type(self).__name__} does not know its model's preprocessing")
        from se_deploy.data.images import preprocess_any  # PIL: only when images are preprocessed

        return preprocess_any(image, self.preprocessing).astype(self.input_spec.dtype, copy=False)

    def close(self) -> None:
        """Release sessions and buffers; the runner is not used afterwards."""

    def __enter__(self) -> Runner:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.input_spec.describe()})"


@dataclass(frozen=True)
class LoadOptions:
    """What ``se_deploy.load`` and ``bench`` ask of every backend's ``load``."""

    threads: int | None = None  # intra-op threads (CPU backends)
    max_batch: int | None = None  # largest batch accepted, where the artifact does not say
    allow_nonfinite: bool = False
    timed: bool = False  # several runners timed in one process: no spinning idle threads (see DESIGN.md)


def _default_preparation() -> Preparation:
    # prepare.py pulls in the rewrite and precision stages (onnx): imported when a build is asked for,
    # so that the registry and the CLI's backend lists stay light.
    from se_deploy.prepare import Preparation

    return Preparation()


@dataclass(frozen=True)
class BuildRequest:
    """Build an artifact from ``model`` (a source ONNX) to ``output``; the backend's own options go apart."""

    model: Path
    output: Path
    preparation: Preparation = field(default_factory=_default_preparation)
    force: bool = False


@dataclass(frozen=True)
class BuildResult:
    """What a backend's ``build`` wrote, and what the CLI shows of it."""

    artifact: Path
    summary: list[str]  # lines for the terminal
    notes: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None  # ``--json`` output (None: the backend prints no JSON)


@dataclass(frozen=True)
class BenchVariant:
    """One network ``bench`` builds on a backend: from the stock or twin ONNX, fused or not, with options."""

    fuse: bool
    options: Any


def lazy(module: str, name: str) -> Callable[..., Any]:
    """``module.name``, imported on the first call: a backend's build and runner modules import its runtime
    (onnxruntime, TensorRT, OpenVINO: seconds, or missing), so ``backend.py`` names them without importing."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__qualname__ = f"lazy({module}.{name})"
    return call


def _never(_path: Path) -> bool:
    return False


def _available() -> str | None:
    return None


@dataclass(frozen=True)
class Backend:
    """One backend: every capability a backend lacks stays ``None`` (torch builds no artifact)."""

    name: str
    summary: str  # one line, for --help
    recognizes: Callable[[Path], bool] = _never  # is this path this backend's artifact (se_deploy.load)
    load: Callable[[Path, LoadOptions], Runner] | None = None
    build: Callable[[BuildRequest, Any, Progress], BuildResult] | None = None  # (request, options, progress)
    options_from_cli: Callable[[Mapping[str, Any]], Any] | None = None  # `se-deploy build` flags -> options
    unavailable: Callable[[], str | None] = _available  # why it cannot run here, or None
    quant_target: str = "onnxruntime"  # whose INT8 settings it builds with by default (precision/int8.py)
    artifact_suffix: str = ""  # "" for an engine folder, ".plan" for a file
    bench_variants: Callable[[str, tuple[int, ...]], dict[str, BenchVariant]] | None = None  # (precision, batches)
    bench_role: str = "backend"  # bench: "backend" (--backend, se-deploy's) or "peer" (--peer: what users run instead)
    bench_note: Callable[[], str] | None = None  # a line for the bench report when it is measured
    accuracy: bool = True  # bench --data evaluates its engines (bench/accuracy.py)
    profile: bool = False  # bench --profile reads ONNX Runtime's profiler on its engines (bench/profile.py)
    # (model, twin, mode) -> runners keyed (backend, variant, precision): backends that run torch modules
    module_runners: Callable[[Any, Any, str], dict[tuple[str, str, str], Runner]] | None = None
