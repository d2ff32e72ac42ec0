"""Is the INT8 win SE-specific? The SE engine as built against the twin run whole and as per-core slices.

`se-deploy bench` measures the INT8 SE engine as built (SE-native batch-1 graph with the gates folded,
batches as per-core slices) against the twin as built (whole batches on intra-op threads). Slicing alone
may speed up the twin too, so this control also runs the twin sliced, and the SE engine's portable graph
both ways, interleaved in one process, so the SE tax can be read against the twin's better plan:

    se-deploy build SE.onnx -o se-int8 --precision int8 --calib DIGITS --calib-samples 32
    se-deploy build TWIN.onnx -o twin-int8 --precision int8 --calib DIGITS --calib-samples 32
    python benchmarks/batch_parallel.py se-int8 twin-int8 --batch 8 --rounds 20 --out result.json

"se_built" is ``se_deploy.load``'s runner session for the SE engine (its plan); the others open the
engines' ``model.onnx`` (no spinning threads, ORT's optimizations on): "whole" = one session with
``--threads`` intra-op threads, "sliced" = ``BatchParallelSession`` over single-threaded sessions. Per round, each of the four runs
``--iterations`` times; the round's median is kept; ratios are per round, summarized as geometric mean,
median and IQR (``se_deploy.bench.stats``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from se_deploy.backends.engine_folder import EngineDescription
from se_deploy.backends.onnxruntime.batch_parallel import BatchParallelSession, median_run_ms
from se_deploy.backends.onnxruntime.runner import open_session, session_factory
from se_deploy.bench.environment import cpu_isa, cpu_model
from se_deploy.bench.stats import ratio_summary
from se_deploy.image_like import image_like_inputs
from se_deploy.onnx_io import load_onnx


def portable_sessions(engine: Path) -> Callable[[int | None], Any]:
    """``threads -> session`` over the engine's ``model.onnx``, as ``se_deploy.load`` opens a bare ONNX file."""
    model_path = engine / EngineDescription.read(engine).model_file
    return session_factory(load_onnx(model_path), None, None, ["CPUExecutionProvider"], spinning=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("se_engine", type=Path)
    parser.add_argument("twin_engine", type=Path)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    sessions: dict[str, Any] = {"se_built": open_session(args.se_engine, threads=args.threads, spinning=False).session}
    for label, engine in (("se", args.se_engine), ("twin", args.twin_engine)):
        factory = portable_sessions(engine)
        sessions[f"{label}_whole"] = factory(args.threads)
        sessions[f"{label}_sliced"] = BatchParallelSession(factory, args.threads)
    name = sessions["se_whole"].get_inputs()[0].name
    shape = (args.batch, *sessions["se_whole"].get_inputs()[0].shape[1:])
    feeds = {name: image_like_inputs(shape, seed=0)}
    outputs = {label: session.run(None, feeds)[0] for label, session in sessions.items()}  # also the warm-up
    for label in ("se", "twin"):  # the slices compute what the whole batch does
        np.testing.assert_allclose(outputs[f"{label}_sliced"], outputs[f"{label}_whole"], rtol=1e-4, atol=1e-4)
    agreement = float((outputs["se_built"].argmax(1) == outputs["se_whole"].argmax(1)).mean())
    rounds: dict[str, list[float]] = {label: [] for label in sessions}
    for index in range(args.rounds):
        for label, session in sessions.items():
            rounds[label].append(median_run_ms(session, feeds, args.iterations))
        print(f"round {index + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in rounds.items()))
    pairs = {
        "se_built / twin_whole (what se-deploy bench reports)": ("se_built", "twin_whole"),
        "se_built / twin_sliced (against the twin's sliced plan)": ("se_built", "twin_sliced"),
        "se_whole / twin_whole (stock ORT's plan for both)": ("se_whole", "twin_whole"),
        "se_sliced / twin_sliced (portable graphs, both split)": ("se_sliced", "twin_sliced"),
        "twin_sliced / twin_whole (slicing without SE)": ("twin_sliced", "twin_whole"),
        "se_built / se_sliced (the fold, both split)": ("se_built", "se_sliced"),
    }
    ratios = {key: ratio_summary(rounds[a], rounds[b]).to_dict() for key, (a, b) in pairs.items()}
    for key, summary in ratios.items():
        print(
            f"{key}: {summary['geomean']} (median {summary['median']}, IQR {summary['iqr_low']}-{summary['iqr_high']})"
        )
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "isa": cpu_isa(),
        "onnxruntime": ort.__version__,
        "engines": {"se": str(args.se_engine), "twin": str(args.twin_engine)},
        "batch": args.batch,
        "threads": args.threads,
        "rounds": args.rounds,
        "iterations": args.iterations,
        "median_ms": {label: round(float(np.median(values)), 2) for label, values in rounds.items()},
        "ratios": ratios,
        "se_built_top1_agreement_with_se_whole": agreement,
        "se_plan": EngineDescription.read(args.se_engine).batch_parallel,
        "se_native_kind": (EngineDescription.read(args.se_engine).native or {}).get("kind"),
        "round_medians_ms": {label: [round(v, 2) for v in values] for label, values in rounds.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
