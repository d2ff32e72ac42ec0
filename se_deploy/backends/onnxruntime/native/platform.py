"""The platform an SE-native graph is tied to: ONNX Runtime version, CPU model, ISA, NCHWc block size."""

from __future__ import annotations

import functools
import platform as _platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NCHWC_DOMAIN = "com.microsoft.nchwc"
_ISA_ORDER = ("amx_tile", "avx512f", "avx2", "avx", "sse4_1")  # most capable first


@dataclass(frozen=True)
class NativePlatform:
    onnxruntime: str
    cpu_model: str
    isa: str  # the widest vector ISA ORT's kernels may pick: avx512f, avx2, ... (arch name off x86)
    nchwc_block: int | None  # None: ORT does not use the blocked layout on this machine

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def mismatch(self, recorded: dict[str, Any]) -> str | None:
        """Why a graph built on ``recorded`` must not run here (None: it may)."""
        for key, label in (("onnxruntime", "ONNX Runtime"), ("isa", "CPU ISA"), ("nchwc_block", "NCHWc block size")):
            if recorded.get(key) != getattr(self, key):
                return f"{label} {recorded.get(key)!r} at build time, {getattr(self, key)!r} here"
        return None


def _cpu_flags_and_model() -> tuple[set[str], str]:
    flags: set[str] = set()
    model = _platform.processor() or _platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "flags" and not flags:
                flags = set(value.split())
            elif key == "model name" and value.strip():
                model = value.strip()
    return flags, model


def cpu_isa(flags: set[str]) -> str:
    """The widest x86 vector ISA in ``flags`` (``amx_tile`` counts as AVX-512 for ORT's FP32 kernels)."""
    for isa in _ISA_ORDER:
        if isa in flags:
            return "avx512f" if isa == "amx_tile" else isa
    return _platform.machine().lower() or "unknown"


def _probe_model() -> onnx.ModelProto:
    """One 3->4 channel conv: ORT's NCHWc transformer pads its 4 output channels up to the block size."""
    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3])],
        "nchwc_probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])],
        [weight],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def block_size_of(optimized: onnx.ModelProto) -> int | None:
    """The NCHWc block size ORT used in the optimized probe graph (None: no blocked conv)."""
    reordered = {i.name: list(i.dims) for i in optimized.graph.initializer}
    for node in optimized.graph.node:
        if node.domain == NCHWC_DOMAIN and node.op_type == "Conv" and node.input[1] in reordered:
            return int(reordered[node.input[1]][0])
    return None


@functools.cache
def nchwc_block_size() -> int | None:
    """Measured, not guessed: what ORT's transformer does to the probe conv on this CPU (8 AVX2, 16 AVX-512)."""
    import tempfile

    from se_deploy.backends.onnxruntime.native.optimize import optimize_with_ort

    with tempfile.TemporaryDirectory() as tmp:
        return block_size_of(optimize_with_ort(_probe_model(), Path(tmp) / "probe.onnx"))


@functools.cache
def current_platform() -> NativePlatform:
    import onnxruntime

    flags, model = _cpu_flags_and_model()
    return NativePlatform(onnxruntime.__version__, model, cpu_isa(flags), nchwc_block_size())
