"""The ONNX Runtime backend, as the registry sees it (``backends/base.py``'s protocol).

Imports only the artifact check: ``build.py`` and ``runner.py`` (onnx, onnxruntime) are imported when a
build or a load is asked for, so recognising an artifact stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from se_deploy.backends.base import BASELINE, FUSED, FUSED_PORTABLE, STOCK, TWIN, Backend, BenchVariant, lazy
from se_deploy.backends.onnxruntime.artifact import BACKEND_NAME, recognizes


def _options(flags: Mapping[str, Any]) -> Any:
    from se_deploy.backends.onnxruntime.build import OnnxRuntimeOptions

    max_batch = flags.get("max_batch")
    return OnnxRuntimeOptions(
        device=flags.get("device", "cpu"),
        native=not flags.get("portable", False),
        max_batch=8 if max_batch is None else max_batch,
        hoist_squeeze=flags.get("squeeze_hoist", False),
        fold_gate=not flags.get("no_fold", False),
        batch_parallel=flags.get("batch_parallel") or "auto",
    )


def _bench_variants(precision: str, batches: tuple[int, ...]) -> dict[str, BenchVariant]:
    from se_deploy.backends.onnxruntime.build import OnnxRuntimeOptions

    def options(native: bool, batch_parallel: str = "auto") -> OnnxRuntimeOptions:
        return OnnxRuntimeOptions(native=native, max_batch=max(batches), batch_parallel=batch_parallel)

    # every variant as `se-deploy build` makes it by default (auto: stock, twin and baseline have no fused
    # SE block, so their batches run whole), but fused-portable: the fused graph as plain ORT runs it
    variants = {
        STOCK: BenchVariant(False, options(False)),
        FUSED: BenchVariant(True, options(True)),  # SE-native graphs (FP32, INT8 CPU); INT8: batch-parallel
        FUSED_PORTABLE: BenchVariant(True, options(False, batch_parallel="off")),
        TWIN: BenchVariant(False, options(False)),
        BASELINE: BenchVariant(False, options(False)),
    }
    if precision == "fp16":
        del variants[FUSED_PORTABLE]  # FP16 engines have neither SE-native graphs nor a batch plan: the same engine
    return variants


BACKEND = Backend(
    name=BACKEND_NAME,
    summary="ONNX Runtime engine folder (model.onnx + engine.json), CPU or GPU execution providers",
    recognizes=recognizes,
    load=lazy("se_deploy.backends.onnxruntime.runner", "load"),
    build=lazy("se_deploy.backends.onnxruntime.build", "build"),
    options_from_cli=_options,
    quant_target="onnxruntime",
    bench_variants=_bench_variants,
    profile=True,
)
