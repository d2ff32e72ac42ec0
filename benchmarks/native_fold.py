"""What folding the SE gate into a conv buys: stock / native (grouped scaling conv) / native+fold / twin.

Folds: into conv3 (native/fold.py) or into the conv after the block (native/consumer_fold.py); each row
counts the folded blocks per target.

    python benchmarks/native_fold.py MODEL.onnx --batches 1,8 --rounds 12 --out FILE.json

MODEL.onnx is an FP32 SE model with a dynamic batch (e.g. `se-deploy export --model se_resnet50`); the
twin is se-deploy's SE-stripped copy. For each batch the SE-native graphs are built exactly as
`se-deploy build` builds them (ORT-optimized at that batch, rewritten, loaded with optimizations off),
once without folding and once with it (at batch > 1 the folded conv is one ``group=N`` conv with
per-sample weights: ``fold_batched``), and each is checked against stock ORT before it is timed.
Every variant runs in every round, the order rotated; ratios are per-round, vs the twin.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from se_deploy.backends.onnxruntime.native.fold import rewrite_native_folded
from se_deploy.backends.onnxruntime.native.optimize import fix_batch, optimize_with_ort, static_shapes
from se_deploy.backends.onnxruntime.native.platform import current_platform
from se_deploy.backends.onnxruntime.native.session import session_options
from se_deploy.backends.onnxruntime.native.verify import compare_logits
from se_deploy.bench.environment import environment
from se_deploy.bench.latency import measure_interleaved
from se_deploy.bench.stats import ratio_summary
from se_deploy.image_like import image_like_inputs
from se_deploy.onnx_io import load_onnx
from se_deploy.rewrite.surgery import strip_se


class _Session:
    """One ORT session (no spinning: several live in this process) on one model."""

    def __init__(self, model: onnx.ModelProto, *, optimize: bool, threads: int) -> None:
        import onnxruntime as ort

        options = session_options(optimize=optimize, threads=threads, spinning=False)
        self.session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.name = self.session.get_inputs()[0].name

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.name: batch})[0])


def _native_graphs(
    source: onnx.ModelProto, batch: int, block: int
) -> dict[str, tuple[onnx.ModelProto, dict[str, int]]]:
    """variant -> (rewritten graph, folded blocks per fold target)."""
    fixed = fix_batch(source, batch)
    with tempfile.TemporaryDirectory() as scratch:
        optimized = optimize_with_ort(fixed, Path(scratch) / "optimized.onnx")
    shapes = static_shapes(fixed)
    plain = rewrite_native_folded(optimized, shapes, block, fold=False)
    folded = rewrite_native_folded(optimized, shapes, block, fold=True, fold_batched=batch > 1)
    return {
        "native": (plain.model, {}),
        "native_fold": (folded.model, dict(Counter(b.fold_target for b in folded.blocks if b.folded))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    platform = current_platform()
    if platform.nchwc_block is None:
        raise SystemExit("ONNX Runtime uses no NCHWc layout on this CPU: nothing to measure")
    source = load_onnx(args.model)
    twin = strip_se(source).model
    stock_session = _Session(source, optimize=True, threads=args.threads)
    twin_session = _Session(twin, optimize=True, threads=args.threads)
    shape = tuple(d.dim_value for d in source.graph.input[0].type.tensor_type.shape.dim[1:])
    rows: list[dict[str, Any]] = []
    for batch in (int(b) for b in args.batches.split(",")):
        data = image_like_inputs((batch, *shape), seed=batch)
        runners: dict[tuple[str, ...], Any] = {("stock",): stock_session, ("twin",): twin_session}
        checks, targets = {}, {}
        for variant, (graph, counts) in _native_graphs(source, batch, platform.nchwc_block).items():
            runners[variant,] = _Session(graph, optimize=False, threads=args.threads)
            checks[variant] = compare_logits(stock_session.infer(data), runners[variant,].infer(data), batch).to_dict()
            targets = counts or targets
        folded = sum(targets.values())
        measured = measure_interleaved(runners, {batch: data}, rounds=args.rounds, iterations=args.iterations)
        twin_rounds = measured[("twin",), batch].round_medians_ms
        row: dict[str, Any] = {
            "batch": batch,
            "folded_blocks": folded,
            "fold_targets": targets,
            "verification_vs_stock": checks,
        }
        for key in runners:
            rounds = measured[key, batch].round_medians_ms
            row[f"{key[0]}_ms_median"] = float(np.median(measured[key, batch].samples_ms))
            row[f"{key[0]}_vs_twin"] = ratio_summary(rounds, twin_rounds).to_dict()
        fold_rounds = measured[("native_fold",), batch].round_medians_ms
        row["native_fold_vs_native"] = ratio_summary(
            fold_rounds, measured[("native",), batch].round_medians_ms
        ).to_dict()
        row["native_fold_vs_stock"] = ratio_summary(fold_rounds, measured[("stock",), batch].round_medians_ms).to_dict()
        rows.append(row)
        print(
            f"batch {batch} ({folded} blocks folded): vs twin median "
            + ", ".join(f"{k[0]} {row[f'{k[0]}_vs_twin']['median']:.3f}" for k in runners if k != ("twin",))
            + f"; fold/native {row['native_fold_vs_native']['median']:.3f}",
            flush=True,
        )
    report = {
        "command": "python benchmarks/native_fold.py "
        + f"{args.model} --batches {args.batches} --rounds {args.rounds} --iterations {args.iterations} "
        f"--threads {args.threads}",
        "environment": environment(args.threads),
        "platform": platform.to_dict(),
        "load_average_at_end": list(os.getloadavg()),
        "ratios": "median [IQR] of per-round ratios of round medians (interleaved); geomean beside it",
        "rows": rows,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
