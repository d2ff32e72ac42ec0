"""Backends by name: the one place that lists them. A new backend is one folder plus one line below.

Each entry names a module that defines ``BACKEND`` (a ``base.Backend``). The modules are imported when a
backend is first asked for, not when this registry is: importing onnxruntime, TensorRT, torch or
OpenVINO costs seconds (or fails where they are not installed), and most commands use one backend.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from se_deploy.backends.base import Backend
from se_deploy.errors import InvalidArgumentError

_MODULES: dict[str, str] = {
    "onnxruntime": "se_deploy.backends.onnxruntime.backend",
    "tensorrt": "se_deploy.backends.tensorrt.backend",
    "torch": "se_deploy.backends.torch.backend",
    "openvino": "se_deploy.backends.openvino.backend",
}
DEFAULT = "onnxruntime"  # reads bare ONNX files; says what is wrong with a path no backend recognises


def backend_names() -> tuple[str, ...]:
    return tuple(_MODULES)


def get_backend(name: str) -> Backend:
    """The backend called ``name``; a clear error listing the choices otherwise."""
    if name not in _MODULES:
        raise InvalidArgumentError(f"unknown backend {name!r}; choose one of {', '.join(_MODULES)}")
    backend = importlib.import_module(_MODULES[name]).BACKEND
    assert isinstance(backend, Backend) and backend.name == name, f"{_MODULES[name]}.BACKEND is not {name!r}"
    return backend


def backends_that(capability: str) -> tuple[str, ...]:
    """Names of the backends whose ``capability`` (a ``Backend`` field, e.g. ``build``) is set."""
    return tuple(name for name in _MODULES if getattr(get_backend(name), capability) is not None)


def backends_for_bench(role: str = "backend") -> tuple[str, ...]:
    """Names ``bench --backend`` takes (role "backend") or ``--peer`` takes (role "peer", besides torch's)."""
    return tuple(name for name in _MODULES if get_backend(name).bench_role == role)


def backend_for_artifact(path: Path) -> Backend:
    """The backend whose artifact ``path`` is (engine folder, plan...); ONNX Runtime for anything else."""
    for name in _MODULES:
        backend = get_backend(name)
        if backend.load is not None and backend.recognizes(path):
            return backend
    return get_backend(DEFAULT)
