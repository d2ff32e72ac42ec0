"""Run an SE-native engine: one ORT session per batch bucket, behind the InferenceSession calls se-deploy uses.

The graphs are ORT's own optimized graphs (rewritten), so they load with graph optimizations off; they
are tied to the ORT version, CPU ISA and NCHWc block size recorded at build time, and a session refuses
to open elsewhere.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from se_deploy.backends.onnxruntime.native.buckets import chunks
from se_deploy.backends.onnxruntime.native.platform import current_platform
from se_deploy.errors import InvalidArgumentError


def session_options(*, optimize: bool, threads: int | None = None, spinning: bool = True) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def check_platform(native: dict[str, Any], engine: Path) -> None:
    """Refuse an SE-native engine built for another ORT version, CPU ISA or NCHWc block size."""
    recorded = native.get("platform", {})
    mismatch = current_platform().mismatch(recorded)
    if mismatch:
        raise InvalidArgumentError(
            f"{str(engine)!r} is an SE-native ONNX Runtime engine built for another platform ({mismatch}); "
            f"its graphs are ORT's hardware-specific layout: rebuild it on this machine with `se-deploy build`, "
            f"or build with --portable for an engine that runs anywhere"
        )


class _IOInfo:
    """What ``InferenceSession.get_inputs()`` returns, with the batch dimension dynamic."""

    def __init__(self, arg: Any) -> None:
        self.name = arg.name
        self.type = arg.type
        self.shape = ["batch", *arg.shape[1:]]


class NativeSession:
    """``run``/``get_inputs``/``get_outputs`` like an InferenceSession, over per-bucket graphs (opened lazily)."""

    def __init__(self, folder: Path, files: dict[int, str], *, threads: int | None, spinning: bool) -> None:
        self.folder = folder
        self.files = dict(sorted(files.items()))
        self.buckets = list(self.files)
        self._threads, self._spinning = threads, spinning
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        first = self.session(self.buckets[0])
        self._inputs = [_IOInfo(i) for i in first.get_inputs()]
        self._outputs = [_IOInfo(o) for o in first.get_outputs()]

    def session(self, bucket: int) -> Any:
        import onnxruntime as ort

        with self._lock:
            if bucket not in self._sessions:
                options = session_options(optimize=False, threads=self._threads, spinning=self._spinning)
                path = self.folder / self.files[bucket]
                self._sessions[bucket] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            return self._sessions[bucket]

    @property
    def opened_buckets(self) -> list[int]:
        """The buckets whose graphs have run (opened on first use): what served a workload."""
        with self._lock:
            return sorted(self._sessions)

    def get_inputs(self) -> list[_IOInfo]:
        return self._inputs

    def get_outputs(self) -> list[_IOInfo]:
        return self._outputs

    def get_providers(self) -> list[str]:
        return ["CPUExecutionProvider"]

    def run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray], *args: Any) -> list[np.ndarray]:
        if len(feeds) != 1:
            raise InvalidArgumentError(f"an SE-native engine takes one input, got {sorted(feeds)}")
        ((name, batch),) = feeds.items()
        pieces: list[list[np.ndarray]] = []
        for part, bucket, real in chunks(np.asarray(batch), self.buckets):
            outputs = self.session(bucket).run(output_names, {name: part}, *args)
            pieces.append([np.asarray(o)[:real] for o in outputs])
        return [np.concatenate(parts, axis=0) for parts in zip(*pieces, strict=True)]
