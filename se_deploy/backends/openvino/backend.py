"""The OpenVINO backend, as the registry sees it (``backends/base.py``'s protocol): CPU, FP32 inference.

In ``bench`` it is a peer (``--peer openvino``: what users would run instead). Imports only the artifact
check: ``build.py`` and ``runner.py`` (onnx, openvino) are imported when a build or a load is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from se_deploy.backends.base import FUSED, STOCK, TWIN, Backend, BenchVariant, lazy
from se_deploy.backends.openvino.artifact import BACKEND_NAME, recognizes
from se_deploy.errors import InvalidArgumentError


def _options(_flags: Mapping[str, Any]) -> Any:
    from se_deploy.backends.openvino.build import OpenVINOOptions

    return OpenVINOOptions()


def _unavailable() -> str | None:
    from se_deploy.backends.openvino.runner import import_openvino

    try:
        import_openvino()
    except InvalidArgumentError as exc:
        return str(exc)
    return None


def _bench_note() -> str:
    from se_deploy.backends.openvino.runner import openvino_version

    return (
        f"openvino {openvino_version()}: CPU, FP32 inference precision, static shape per batch; "
        "the fused model runs with its SE functions inlined (OpenVINO cannot convert the se_deploy node)"
    )


def _bench_variants(_precision: str, _batches: tuple[int, ...]) -> dict[str, BenchVariant]:
    from se_deploy.backends.openvino.build import OpenVINOOptions

    return {
        STOCK: BenchVariant(False, OpenVINOOptions()),
        FUSED: BenchVariant(True, OpenVINOOptions()),
        TWIN: BenchVariant(False, OpenVINOOptions()),
    }


BACKEND = Backend(
    name=BACKEND_NAME,
    summary="OpenVINO engine folder (inlined model.onnx + engine.json), CPU FP32: needs `pip install openvino`",
    recognizes=recognizes,
    load=lazy("se_deploy.backends.openvino.runner", "load"),
    build=lazy("se_deploy.backends.openvino.build", "build"),
    options_from_cli=_options,
    unavailable=_unavailable,
    bench_variants=_bench_variants,
    bench_role="peer",
    bench_note=_bench_note,
)
