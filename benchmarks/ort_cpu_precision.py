"""ONNX Runtime CPU latency of SE-ResNet-50 engines: FP32 stock/fused, FP16, INT8 U8S8 vs S8S8.

Why: the INT8 default per backend (README, "Precision") rests on this measurement. Method: every
engine is a session in this process with intra-op spinning off (spinning sessions steal each other's
cores), fixed thread count, warm-up, then interleaved rounds (A B C ... A B C ...) so machine drift
hits all variants alike; per round each variant's median latency, ratios to FP32-stock per round,
reported as the median ratio with its min..max over rounds.

    python benchmarks/ort_cpu_precision.py --work /tmp/se-bench --rounds 10 --batches 1,8

Writes ``benchmarks/results/ort_cpu_precision.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], check=True, stdout=subprocess.DEVNULL)


def prepare(work: Path) -> dict[str, Path]:
    repo = work / "models"
    if not (repo / "se_resnet50").exists():
        run("export", "--model", "se_resnet50", "--output", str(repo), "--no-twin")
    calib = work / "calib"
    if not calib.exists():
        run("make-digits", str(calib), "--split", "train")
    source = repo / "se_resnet50" / "1" / "model.onnx"
    engines = {
        "fp32_stock": ["--precision", "fp32", "--no-fuse"],
        "fp32_fused": ["--precision", "fp32"],
        "fp16_fused": ["--precision", "fp16"],
        "int8_u8s8_fused": ["--precision", "int8", "--quant-target", "onnxruntime"],
        "int8_s8s8_fused": ["--precision", "int8", "--quant-target", "tensorrt"],
    }
    paths = {}
    for name, options in engines.items():
        target = work / "engines" / name
        if not target.exists():
            extra = ["--calib", str(calib), "--calib-samples", "32"] if "int8" in name else []
            run("build", str(source), "-o", str(target), *options, *extra)
        paths[name] = target
    return paths


def measure(
    paths: dict[str, Path], batches: list[int], rounds: int, iterations: int, threads: int
) -> list[dict[str, object]]:
    sys.path.insert(0, str(ROOT))
    from se_deploy.backends.onnxruntime.runner import OnnxRuntimeRunner

    runners = {name: OnnxRuntimeRunner(path, threads=threads) for name, path in paths.items()}
    rows = []
    for batch in batches:
        x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
        for runner in runners.values():
            for _ in range(3):
                runner.infer(x)
        per_round: dict[str, list[float]] = {name: [] for name in runners}
        names = list(runners)
        for round_index in range(rounds):
            order = names[round_index % len(names) :] + names[: round_index % len(names)]
            for name in order:
                times = []
                for _ in range(iterations):
                    start = time.perf_counter()
                    runners[name].infer(x)
                    times.append((time.perf_counter() - start) * 1e3)
                per_round[name].append(statistics.median(times))
        base = per_round["fp32_stock"]
        for name in names:
            ratios = [v / b for v, b in zip(per_round[name], base, strict=True)]
            rows.append(
                {
                    "variant": name,
                    "batch": batch,
                    "latency_ms_median": round(statistics.median(per_round[name]), 2),
                    "ratio_vs_fp32_stock": round(statistics.median(ratios), 3),
                    "ratio_min": round(min(ratios), 3),
                    "ratio_max": round(max(ratios), 3),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/se-bench"))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ort_cpu_precision.json")
    args = parser.parse_args()
    paths = prepare(args.work)
    rows = measure(paths, [int(b) for b in args.batches.split(",")], args.rounds, args.iterations, args.threads)
    import onnxruntime

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    record = {
        "benchmark": "ort_cpu_precision",
        "command": "python benchmarks/ort_cpu_precision.py " + " ".join(sys.argv[1:]),
        "date": dt.date.today().isoformat(),
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "threads": args.threads},
        "versions": {"onnxruntime": onnxruntime.__version__, "python": platform.python_version()},
        "method": f"interleaved rounds={args.rounds}, iterations/round={args.iterations}, spinning off, median of per-round ratios",
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    for row in rows:
        print(
            f"batch {row['batch']:>2} {row['variant']:<17} {row['latency_ms_median']:>8.2f} ms  x{row['ratio_vs_fp32_stock']:.3f} ({row['ratio_min']}..{row['ratio_max']})"
        )


if __name__ == "__main__":
    main()
