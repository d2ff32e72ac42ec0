"""Time per ONNX op type of se-deploy engines, from ONNX Runtime's profiler, at several thread counts.

`se-deploy bench --profile` books ops into SE categories written for float graphs; a quantized graph's ops
(QLinearConv, QLinearMul, ...) all land in "convolutions and the rest". This splits any engine by op type:

    python benchmarks/op_profile.py ENGINE_A ENGINE_B --batch 8 --threads 1,2 --out FILE.json

Each engine runs in its own session, one after another (no two sessions at once), image-like input;
the first run is a warm-up and is left out. Mean ms per run and node count per op type, per engine and
thread count; the total is the sum of kernel times (no session overhead).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import onnxruntime as ort

from se_deploy.backends.engine_folder import EngineDescription
from se_deploy.bench.environment import cpu_isa, cpu_model
from se_deploy.image_like import image_like_inputs


def profile(engine: Path, batch: int, threads: int, runs: int) -> dict[str, dict[str, float]]:
    description = EngineDescription.read(engine)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(prefix="op-profile-"), "trace")
    session = ort.InferenceSession(str(engine / description.model_file), options, providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0]
    feeds = {first.name: image_like_inputs((batch, *first.shape[1:]), seed=0)}
    for _ in range(runs + 1):
        session.run(None, feeds)
    trace = json.loads(Path(session.end_profiling()).read_text())
    per_op: dict[str, dict[str, float]] = defaultdict(lambda: {"ms": 0.0, "nodes": 0.0})
    kernel_events = [e for e in trace if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    per_run = len(kernel_events) // (runs + 1)  # every node runs once per run
    for event in kernel_events[per_run:]:  # the warm-up run's events come first
        op = event.get("args", {}).get("op_name", "?")
        per_op[op]["ms"] += event["dur"] / 1000.0 / runs
        per_op[op]["nodes"] += 1 / runs
    return {op: {"ms": round(v["ms"], 3), "nodes": round(v["nodes"])} for op, v in per_op.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engines", type=Path, nargs="+", help="se-deploy engine folders")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", default="1,2", help="comma list of intra-op thread counts")
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for threads in (int(t) for t in args.threads.split(",")):
        for engine in args.engines:
            ops = profile(engine, args.batch, threads, args.runs)
            total = round(sum(v["ms"] for v in ops.values()), 3)
            results.append({"engine": engine.name, "threads": threads, "total_ms": total, "ops": ops})
            top = sorted(ops.items(), key=lambda item: -item[1]["ms"])[:6]
            print(
                f"{engine.name} threads={threads} total {total:.1f} ms: "
                + ", ".join(f"{k} {v['ms']:.1f}" for k, v in top)
            )
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "isa": cpu_isa(),
        "cpus": os.cpu_count(),
        "onnxruntime": ort.__version__,
        "batch": args.batch,
        "runs": args.runs,
        "engines": [str(e) for e in args.engines],
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
