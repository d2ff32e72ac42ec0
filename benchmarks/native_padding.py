"""What serving any batch costs an SE-native engine: native at batch n (run as the engine runs it: split
into whole buckets, see native/buckets.py) vs stock ONNX Runtime at the same n, interleaved.

    python benchmarks/native_padding.py ENGINE_DIR --batches 1,2,3,4,5,6,7,8 --rounds 8 --out FILE.json

ENGINE_DIR is an FP32 engine built by `se-deploy build` with SE-native graphs; stock is its source ONNX
(engine.json's source_model) with ORT's default optimizations. Ratios are medians of per-round ratios.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from se_deploy.backends.engine_folder import EngineDescription
from se_deploy.backends.onnxruntime.native.buckets import chunks
from se_deploy.backends.onnxruntime.runner import OnnxRuntimeRunner
from se_deploy.bench.environment import environment
from se_deploy.bench.latency import measure_interleaved
from se_deploy.bench.stats import ratio_summary
from se_deploy.image_like import image_like_inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", type=Path)
    parser.add_argument("--batches", default="1,2,3,4,5,6,7,8")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    description = EngineDescription.read(args.engine)
    if not description.native:
        raise SystemExit(f"{args.engine} has no SE-native graphs: build it without --portable")
    buckets = [int(b) for b in description.native["buckets"]]
    runners = {
        ("native",): OnnxRuntimeRunner(args.engine, threads=args.threads),
        ("stock",): OnnxRuntimeRunner(Path(description.source_model), threads=args.threads),
    }
    runner = runners["native",]
    shape = tuple(d for d in runner.input_shape[1:])
    batches = [int(b) for b in args.batches.split(",")]
    inputs = {n: image_like_inputs((n, *shape), seed=n) for n in batches}
    measured = measure_interleaved(runners, inputs, rounds=args.rounds, iterations=args.iterations)
    rows = []
    for n in batches:
        native, stock = measured[("native",), n], measured[("stock",), n]
        ratio = ratio_summary(native.round_medians_ms, stock.round_medians_ms)
        rows.append(
            {
                "batch": n,
                "runs_on_buckets": [bucket for _part, bucket, _real in chunks(inputs[n], buckets)],
                "native_ms": float(np.median(native.samples_ms)),
                "stock_ms": float(np.median(stock.samples_ms)),
                "native_vs_stock": ratio.to_dict(),
            }
        )
    report = {
        "command": "python benchmarks/native_padding.py "
        + " ".join([str(args.engine), "--batches", args.batches, "--rounds", str(args.rounds)]),
        "environment": environment(args.threads),
        "engine_native": {k: description.native[k] for k in ("platform", "buckets", "native_blocks")},
        "rows": rows,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for row in rows:
        print(
            f"batch {row['batch']} (buckets {row['runs_on_buckets']}): native {row['native_ms']:.1f} ms, "
            f"stock {row['stock_ms']:.1f} ms, native/stock {row['native_vs_stock']['median']:.3f}"
        )


if __name__ == "__main__":
    main()
