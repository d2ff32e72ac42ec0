"""Time per ONNX op type of se-deploy engines, from ONNX Runtime's profiler, at several thread counts.

`se-deploy bench --profile` books ops into SE categories written for float graphs; a quantized graph's ops
(QLinearConv, QLinearMul, ...) all land in "convolutions and the rest". This splits any engine by op type,
with the bench's own profiler (``se_deploy.bench.profile.kernel_times``: 1 warm-up + 10 runs, mean):

    python benchmarks/op_profile.py ENGINE_A ENGINE_B --batch 8 --threads 1,2 --out FILE.json

Each engine runs in its own session, one after another (no two sessions at once), image-like input.
The total is the sum of kernel times (no session overhead).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

import onnxruntime as ort

from se_deploy.backends.engine_folder import EngineDescription
from se_deploy.bench.environment import cpu_isa, cpu_model
from se_deploy.bench.profile import ITERATIONS, kernel_times
from se_deploy.image_like import image_like_inputs
from se_deploy.onnx_io import load_onnx


def sample_shape(engine: Path) -> tuple[int, ...]:
    model = load_onnx(engine / EngineDescription.read(engine).model_file)
    return tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engines", type=Path, nargs="+", help="se-deploy engine folders")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", default="1,2", help="comma list of intra-op thread counts")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for threads in (int(t) for t in args.threads.split(",")):
        for engine in args.engines:
            batch = image_like_inputs((args.batch, *sample_shape(engine)), seed=0)
            ops = {op: round(ms, 3) for op, ms in kernel_times(engine, batch, threads, lambda _node, op: op).items()}
            total = round(sum(ops.values()), 3)
            results.append({"engine": engine.name, "threads": threads, "total_ms": total, "ms_by_op": ops})
            top = sorted(ops.items(), key=lambda item: -item[1])[:6]
            print(f"{engine.name} threads={threads} total {total:.1f} ms: " + ", ".join(f"{k} {v:.1f}" for k, v in top))
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "isa": cpu_isa(),
        "onnxruntime": ort.__version__,
        "batch": args.batch,
        "runs": ITERATIONS + 1,
        "engines": [str(e) for e in args.engines],
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
