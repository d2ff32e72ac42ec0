"""INT8 (U8S8) SE tax on ONNX Runtime CPU, before and after the squeeze/Q-DQ changes, in ONE interleaved run.

Variants, each quantized from the same SE-ResNet-50 export with the same calibration images:

- ``twin``: SE stripped (the baseline every ratio divides by), quantized as today (GlobalAveragePool head)
- ``stock_reducemean``: stock graph, squeeze left as the exporter's ``ReduceMean`` (the old build)
- ``stock_gap``: stock graph, squeeze rewritten to ``GlobalAveragePool`` (``rewrite/squeeze_pool.py``; today)
- ``fused_function``: fused node left opaque, its body in float between DQ and Q (the old fused build)
- ``fused_inlined``: fused functions inlined, excitation kept in float, squeeze/scale/add quantized (today)

Method as ``se-deploy bench``: one ONNX Runtime session per variant in this process, intra-op spinning off,
fixed thread count, warm-up, interleaved rounds with rotated order; per round each variant's median;
ratios per round; median ratio with its inter-quartile range.

    python benchmarks/ort_int8_se_qdq.py --model /tmp/models/se_resnet50/1/model.onnx --calib digits-train \\
        --work /tmp/se-int8 --rounds 15 --out benchmarks/results/ort_int8_se_qdq/
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx

import se_deploy.precision.int8 as int8
from se_deploy import model_metadata
from se_deploy.backends.onnxruntime.runner import OnnxRuntimeRunner
from se_deploy.bench.environment import environment
from se_deploy.bench.latency import measure_interleaved
from se_deploy.bench.stats import ratio_summary, summarize_latency
from se_deploy.precision.calibration import load_calibration_set
from se_deploy.rewrite.squeeze_pool import SqueezePoolResult
from se_deploy.rewrite.surgery import fuse_se, strip_se


def _no_pool_rewrite(model: onnx.ModelProto) -> SqueezePoolResult:
    return SqueezePoolResult(model)


def build(source: Path, calib: Path, samples: int, work: Path) -> dict[str, Path]:
    stock = onnx.load(str(source))
    preprocessing = model_metadata.preprocessing_of(stock) or model_metadata.default_preprocessing(stock)
    calibration = list(load_calibration_set(calib, preprocessing, samples=samples))
    ort = int8.QUANT_PRESETS["onnxruntime"]
    old = dataclasses.replace(ort, inline_fused_se=False)
    fused = fuse_se(stock).model
    recipes: dict[str, tuple[onnx.ModelProto, int8.QuantSettings, bool]] = {
        "twin": (strip_se(stock).model, ort, True),
        "stock_reducemean": (stock, ort, False),
        "stock_gap": (stock, ort, True),
        "fused_function": (fused, old, True),
        "fused_inlined": (fused, ort, True),
    }
    paths = {}
    for name, (model, settings, pool) in recipes.items():
        path = work / f"{name}.onnx"
        paths[name] = path
        if path.exists():
            continue
        rewrite: Callable[[onnx.ModelProto], SqueezePoolResult] = (
            int8.reduce_mean_to_global_pool if pool else _no_pool_rewrite
        )
        saved = int8.reduce_mean_to_global_pool
        int8.reduce_mean_to_global_pool = rewrite  # type: ignore[assignment]
        try:
            result = int8.quantize_int8(model, calibration, settings=settings)
        finally:
            int8.reduce_mean_to_global_pool = saved  # type: ignore[assignment]
        onnx.save(result.model, str(path))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="SE-ResNet-50 ONNX from `se-deploy export`")
    parser.add_argument("--calib", type=Path, required=True, help="calibration image folder (se-deploy make-digits)")
    parser.add_argument("--calib-samples", type=int, default=32)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    paths = build(args.model, args.calib, args.calib_samples, args.work)
    runners = {(name,): OnnxRuntimeRunner(path, threads=args.threads) for name, path in paths.items()}
    batches = [int(b) for b in args.batches.split(",")]
    size = onnx.load(str(args.model), load_external_data=False).graph.input[0].type.tensor_type.shape.dim[-1].dim_value
    inputs = {b: np.random.default_rng(b).standard_normal((b, 3, size, size)).astype(np.float32) for b in batches}
    measured = measure_interleaved(runners, inputs, rounds=args.rounds, iterations=args.iterations)
    rows = []
    for batch in batches:
        twin = measured[("twin",), batch].round_medians_ms
        for name in paths:
            m = measured[(name,), batch]
            row = {"variant": name, "batch": batch, "p50_ms": round(summarize_latency(m.samples_ms).p50, 3)}
            if name != "twin":
                row["vs_twin"] = ratio_summary(m.round_medians_ms, twin).to_dict()
            rows.append(row)
        for new, old in (("fused_inlined", "stock_gap"), ("fused_inlined", "stock_reducemean")):
            ratio = ratio_summary(measured[(new,), batch].round_medians_ms, measured[(old,), batch].round_medians_ms)
            rows.append({"variant": f"{new}/{old}", "batch": batch, "ratio": ratio.to_dict()})
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "command": "python benchmarks/ort_int8_se_qdq.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "environment": environment(args.threads),
        "rounds": args.rounds,
        "iterations": args.iterations,
        "calibration_samples": args.calib_samples,
        "results": rows,
    }
    (args.out / "ort_int8_se_qdq.json").write_text(json.dumps(report, indent=2) + "\n")
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
