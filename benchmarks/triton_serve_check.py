"""A real Triton Inference Server (PyTriton) serving an se-deploy engine on loopback, under concurrent load.

Every answer is checked against the runtime API (``se_deploy.load``) on the same input; the run is
bounded in requests and time and only talks to 127.0.0.1. Needs the serve environment
(``bash scripts/setup_serve_env.sh``):

    $SE_DEPLOY_SERVE_PYTHON benchmarks/triton_serve_check.py --engine ENGINE_DIR --requests 200 --concurrency 8

Prints and writes (``--out``) a JSON record: requests, errors, mismatches, p50/p99 latency, throughput,
and for an SE-native engine the batch buckets whose graphs served the requests (Triton's dynamic batcher
merges requests into batches the engine splits into its buckets).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from se_deploy.serve.pytriton_server import serve_engines  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", type=Path, required=True, help="ONNX model or se-deploy engine folder")
    parser.add_argument("--name", default="se_model")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not (1 <= args.requests <= 10_000 and 1 <= args.concurrency <= 64):
        sys.exit("--requests must be 1..10000 and --concurrency 1..64: this check stays bounded")
    import tritonclient.http as http

    with serve_engines({args.name: args.engine}) as server:
        engine = server["engines"][args.name]
        spec = engine.input_spec
        shape = tuple(32 if d is None else d for d in spec.shape[1:])
        rng = np.random.default_rng(0)
        pool = [rng.standard_normal((1 + i % 4, *shape)).astype(spec.dtype) for i in range(16)]
        expected = [engine(batch) for batch in pool]
        url = f"127.0.0.1:{server['ports']['http']}"
        latencies: list[float] = []
        errors: list[str] = []
        mismatches = 0
        lock = threading.Lock()
        counter = iter(range(args.requests))
        deadline = time.monotonic() + args.max_seconds

        def worker() -> None:
            nonlocal mismatches
            client = http.InferenceServerClient(url=url, connection_timeout=30, network_timeout=60)
            while time.monotonic() < deadline:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                batch = pool[index % len(pool)]
                request = http.InferInput(spec.name, list(batch.shape), "FP16" if spec.dtype == np.float16 else "FP32")
                request.set_data_from_numpy(batch)
                start = time.perf_counter()
                try:
                    answer = client.infer(args.name, [request]).as_numpy("logits")
                except Exception as exc:  # every failure is counted and reported, none stops the run
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}"[:300])
                    continue
                elapsed = (time.perf_counter() - start) * 1e3
                ok = (
                    answer is not None
                    and answer.shape == expected[index % len(pool)].shape
                    and np.allclose(answer, expected[index % len(pool)], atol=1e-3, rtol=1e-3)
                )
                with lock:
                    latencies.append(elapsed)
                    mismatches += 0 if ok else 1

        began = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        native = getattr(getattr(engine, "session", None), "opened_buckets", None)
        sliced = getattr(getattr(engine, "session", None), "sliced_runs", None)  # batch-parallel engines
    ordered = sorted(latencies)
    record = {
        "check": "triton_serve",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "engine": str(args.engine),
        "requests": args.requests,
        "answered": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:5],
        "mismatches": mismatches,
        "concurrency": args.concurrency,
        "p50_ms": round(statistics.median(ordered), 3) if ordered else None,
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3) if ordered else None,
        "requests_per_s": round(len(latencies) / wall, 1) if wall else None,
        "native_buckets_run": native,
        "batch_parallel_sliced_runs": sliced,
        "batch_sizes_served": {str(k): v for k, v in sorted(server["batch_sizes"][args.name].items())},
        "images_requested": sum(len(pool[i % len(pool)]) for i in range(len(latencies) + len(errors))),
    }
    text = json.dumps(record, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    sys.exit(0 if record["errors"] == 0 and record["mismatches"] == 0 and record["answered"] == args.requests else 1)


if __name__ == "__main__":
    main()
