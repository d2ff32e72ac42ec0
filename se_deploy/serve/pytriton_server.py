"""Serve se-deploy engines from a real Triton Inference Server, through NVIDIA's PyTriton.

PyTriton bundles ``tritonserver`` and runs the model as a Python-backend model whose function calls
the runtime API (``se_deploy.load``). Its Python-backend stub links against ``libpython3.X.so``; when
the system's libpython differs from the running interpreter's (a pyenv Python on Debian, here), the
stub mixes two standard libraries and fails, so the running interpreter's library directory is put
first on ``LD_LIBRARY_PATH``.
"""

from __future__ import annotations

import os
import socket
import sysconfig
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from se_deploy.backends.base import Runner
from se_deploy.errors import InvalidArgumentError
from se_deploy.serve.runtime import load


def use_running_libpython() -> None:
    """Point the Python-backend stub at this interpreter's libpython (see the module docstring)."""
    libdir = sysconfig.get_config_var("LIBDIR")
    library = sysconfig.get_config_var("LDLIBRARY")
    if libdir and library and (Path(libdir) / library).exists():
        current = os.environ.get("LD_LIBRARY_PATH", "")
        if libdir not in current.split(":"):
            os.environ["LD_LIBRARY_PATH"] = f"{libdir}:{current}" if current else libdir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_engines(engines: dict[str, str | Path], *, max_batch: int = 64) -> Iterator[dict[str, Any]]:
    """Start Triton on loopback with each engine bound under its name; yields ports, loaded engines and, per
    engine, how many batches of each size Triton's dynamic batcher handed it (``batch_sizes``)."""
    try:
        from pytriton.decorators import batch
        from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
        from pytriton.triton import Triton, TritonConfig
    except ImportError:
        raise InvalidArgumentError(
            "serving with Triton needs NVIDIA PyTriton (pip install nvidia-pytriton; it pins numpy<2, so use "
            "a separate environment: bash scripts/setup_serve_env.sh)"
        ) from None
    use_running_libpython()
    ports = {"http": free_port(), "grpc": free_port(), "metrics": free_port()}
    loaded: dict[str, Runner] = {name: load(path) for name, path in engines.items()}
    served: dict[str, Counter[int]] = {name: Counter() for name in loaded}
    counting = threading.Lock()  # infer may be called from Triton's threads: += on a Counter is not atomic
    config = TritonConfig(
        http_address="127.0.0.1",
        http_port=ports["http"],
        grpc_address="127.0.0.1",
        grpc_port=ports["grpc"],
        metrics_port=ports["metrics"],
        log_verbose=0,
    )
    with Triton(config=config) as triton:
        for name, engine in loaded.items():
            spec = engine.input_spec
            limit = min(spec.max_batch or max_batch, max_batch)

            @batch
            def infer(
                engine: Runner = engine, sizes: Counter[int] = served[name], **inputs: np.ndarray
            ) -> dict[str, np.ndarray]:
                (values,) = inputs.values()
                with counting:
                    sizes[len(values)] += 1
                return {"logits": engine(values.astype(engine.input_spec.dtype, copy=False)).astype(np.float32)}

            sample_shape = tuple(-1 if d is None else d for d in spec.shape[1:])
            triton.bind(
                model_name=name,
                infer_func=infer,
                inputs=[Tensor(name=spec.name, dtype=spec.dtype.type, shape=sample_shape)],
                outputs=[Tensor(name="logits", dtype=np.float32, shape=(-1,))],
                config=ModelConfig(max_batch_size=limit, batcher=DynamicBatcher(max_queue_delay_microseconds=500)),
                strict=False,
            )
        triton.run()
        yield {"ports": ports, "engines": loaded, "batch_sizes": served}
