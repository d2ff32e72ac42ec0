"""The machine and library versions a report was measured on."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


INT8_ISA = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def cpu_isa() -> list[str]:
    """The x86 extensions that decide which int8 kernels ONNX Runtime runs (VNNI/AMX: int32 sums)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return [flag for flag in INT8_ISA if flag in line.split(":", 1)[1].split()]
    except OSError:
        pass
    return []


def environment(threads: int) -> dict[str, Any]:
    import numpy
    import onnx
    import onnxruntime
    import torch

    import se_deploy

    gpu = None
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_isa": cpu_isa(),
        "cores": os.cpu_count(),
        "threads": threads,
        "gpu": gpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "se_deploy": se_deploy.__version__,
            "onnxruntime": onnxruntime.__version__,
            "onnx": onnx.__version__,
            "torch": torch.__version__,
            "numpy": numpy.__version__,
        },
    }
