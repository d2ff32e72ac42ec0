"""The TensorRT backend, as the registry sees it (``backends/base.py``'s protocol).

Imports only the artifact check: ``build.py`` and ``runner.py`` (TensorRT, torch) are imported when a
build or a load is asked for. TensorRT cannot be installed on this project's machines: building and
running a plan have never run here (see ``build.py`` and ``runner.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from se_deploy.backends.base import FUSED, STOCK, TWIN, Backend, BenchVariant, lazy
from se_deploy.backends.tensorrt.artifact import BatchRange, recognizes
from se_deploy.errors import InvalidArgumentError


def _options(flags: Mapping[str, Any]) -> Any:
    from se_deploy.backends.tensorrt.build import TensorRTOptions

    max_batch = flags.get("max_batch")
    return TensorRTOptions(
        batch=BatchRange(flags.get("min_batch", 1), flags.get("opt_batch", 8), 32 if max_batch is None else max_batch),
        plugin="none" if flags.get("no_plugin") else "aot",
    )


def _unavailable() -> str | None:
    from se_deploy.backends.tensorrt.plugin import import_tensorrt

    try:
        import_tensorrt()
    except InvalidArgumentError as exc:
        return str(exc)
    return None  # pragma: no cover - needs TensorRT


def _bench_variants(precision: str, batches: tuple[int, ...]) -> dict[str, BenchVariant]:
    from se_deploy.backends.tensorrt.build import TensorRTOptions

    batch = BatchRange(min(batches), min(batches), max(batches))
    return {
        STOCK: BenchVariant(False, TensorRTOptions(batch=batch, plugin="none")),
        FUSED: BenchVariant(True, TensorRTOptions(batch=batch, plugin="aot")),
        TWIN: BenchVariant(False, TensorRTOptions(batch=batch, plugin="none")),
    }


BACKEND = Backend(
    name="tensorrt",
    summary="TensorRT plan (.plan + sidecar) with the SE plugin: needs TensorRT and a GPU",
    recognizes=recognizes,
    load=lazy("se_deploy.backends.tensorrt.runner", "load"),
    build=lazy("se_deploy.backends.tensorrt.build", "build"),
    options_from_cli=_options,
    unavailable=_unavailable,
    quant_target="tensorrt",
    artifact_suffix=".plan",
    bench_variants=_bench_variants,
    accuracy=False,  # plans are measured for latency; accuracy runs through ONNX Runtime engines
)
