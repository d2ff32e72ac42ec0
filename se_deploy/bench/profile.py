"""Where the SE tax goes, from ONNX Runtime's own profiler: time per category, per variant.

Categories: the SE block's squeeze, excitation and scale (stock graph; in INT8 graphs their QLinear
kernels, found by ``quantized_roles.py``), the fused SE node (its inlined ops), layout conversions ONNX Runtime inserts (``ReorderInput``/``ReorderOutput`` of its blocked NCHWc
convs), residual adds and activations left as separate ops, and everything else (convolutions...).
Comparing a variant with the twin shows which of these the SE added.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from se_deploy.backends.engine_folder import EngineDescription
from se_deploy.backends.onnxruntime.native.graph import FOLDED_CONV, GATE_WEIGHTS
from se_deploy.backends.registry import get_backend
from se_deploy.bench.quantized_roles import quantized_se_roles
from se_deploy.rewrite.match import find_se_blocks

ITERATIONS = 10
_LAYOUT = {"ReorderInput", "ReorderOutput", "Transpose"}
_RESIDUAL = {"Add", "Sum", "Relu", "QLinearAdd"}


def se_roles(model: onnx.ModelProto) -> dict[str, str]:
    """Node name -> squeeze / excitation / scale for every SE block of the (stock) model."""
    nodes = list(model.graph.node)
    roles = {}
    for block in find_se_blocks(model).blocks:
        for position in block.nodes:
            node = nodes[position]
            if node.op_type in ("GlobalAveragePool", "ReduceMean"):
                role = "SE squeeze"
            elif node.op_type == "Mul" and block.input in node.input:
                role = "SE scale"
            else:
                role = "SE excitation"
            roles[node.name] = role
    return roles


def categorize(node_name: str, op_name: str, roles: dict[str, str]) -> str:
    if node_name in roles:
        return roles[node_name]
    if node_name.startswith("se_native/"):  # nodes the SE-native rewrite wrote (native/rewrite.py)
        if op_name == "Reshape":
            return "SE-native reshapes (views)"
        if node_name.startswith(f"se_native/{FOLDED_CONV}_"):  # the network's own conv (the twin runs it too)
            return "convolutions with the SE gate folded into their weights"
        if node_name.startswith(f"se_native/{GATE_WEIGHTS}_"):
            return "SE gate x conv weights (folding)"
        if op_name == "Conv" and node_name.startswith("se_native/Conv"):
            return "SE-native scale (+ residual, ReLU) conv"
        return "SE squeeze"
    if node_name.startswith("se_deploy_"):
        return "fused SE node"
    if op_name in _LAYOUT:
        return "layout conversions"
    if op_name in _RESIDUAL:
        return "residual add / activation (separate ops)"
    return "convolutions and the rest"


def profile_engine(path: Path, batch: np.ndarray, threads: int, roles: dict[str, str]) -> dict[str, float]:
    """Mean ms per inference spent in each SE-tax category."""
    return kernel_times(path, batch, threads, lambda node, op: categorize(node, op, roles))


def kernel_times(path: Path, batch: np.ndarray, threads: int, category: Callable[[str, str], str]) -> dict[str, float]:
    """Mean kernel ms per inference per ``category(node_name, op_type)``, from ORT's profiler.

    The engine runs as it serves: an SE-native engine on the bucket graph this batch runs on.
    """
    import onnxruntime as ort

    from se_deploy.backends.onnxruntime.native.session import session_options

    description = EngineDescription.read(path)
    with tempfile.TemporaryDirectory(prefix="se-deploy-profile-") as scratch:
        model_file = path / description.model_file
        # timed beside other sessions: no spinning; bucket graphs run as they run, ORT's optimizations off
        options = session_options(optimize=not description.native, threads=threads, spinning=False)
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(scratch, "trace")
        if description.native:  # the bucket graph this batch runs on
            from se_deploy.backends.onnxruntime.native.buckets import chunks

            buckets = [int(b) for b in description.native["buckets"]]
            batch, bucket, _real = next(chunks(batch, buckets))
            model_file = path / description.native["files"][str(bucket)]
        session = ort.InferenceSession(str(model_file), options, providers=description.providers)
        name = session.get_inputs()[0].name
        session.run(None, {name: batch})  # warm-up: profiled too, and counted in the mean below
        for _ in range(ITERATIONS):
            session.run(None, {name: batch})
        trace = json.loads(Path(session.end_profiling()).read_text())
    totals: dict[str, float] = defaultdict(float)
    for event in trace:
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
            continue
        node_name = event["name"][: -len("_kernel_time")]
        totals[category(node_name, event.get("args", {}).get("op_name", ""))] += event["dur"] / 1000.0
    return {category: ms / (ITERATIONS + 1) for category, ms in totals.items()}


def profile_se_tax(engines: dict[tuple[str, ...], Path], batch: np.ndarray, threads: int) -> list[dict[str, Any]]:
    rows = []
    for (backend, variant, precision), path in engines.items():
        if not get_backend(backend).profile or variant == "baseline":
            continue
        model = onnx.load(str(path / "model.onnx"))
        roles = se_roles(model) or quantized_se_roles(model)  # the matcher reads float graphs only
        native = EngineDescription.read(path).native
        source = Path(EngineDescription.read(path).source_model)
        if native and source.is_file() and precision == "fp32":  # ORT's names for the stock SE's excitation
            roles = se_roles(onnx.load(str(source)))
        times = profile_engine(path, batch, threads, roles)
        total = sum(times.values()) or 1.0
        for category, ms in sorted(times.items(), key=lambda item: -item[1]):
            rows.append(
                {
                    "variant": variant,
                    "precision": precision,
                    "category": category,
                    "ms": round(ms, 4),
                    "share": ms / total,
                }
            )
    return rows
