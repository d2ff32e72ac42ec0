"""Why INT8 digits accuracy differs between machines and runs: one experiment per suspected cause.

For the committed digits weights (``se_resnet_tiny`` and ``resnet_tiny``), U8S8 INT8 as ``se-deploy build``
makes it, evaluated on the 450 test images against the FP32 ONNX model:

- determinism: the same build twice, calibration batches in shuffled order, batch size 1 vs 8
  (are the Q/DQ scales and zero points identical?);
- the CPU kernel: one INT8 model run with ONNX Runtime's optimizer on (QDQ fused into integer kernels:
  on AVX2 the U8S8 kernels multiply with ``vpmaddubsw``, whose int16 pair sums can saturate; AVX-512
  VNNI/AMX kernels accumulate in int32 without saturation) vs optimizer off (DequantizeLinear -> float op
  -> QuantizeLinear: the exact float emulation of the Q/DQ graph, identical on every CPU), threads 1 vs 2;
- calibration selection: other equally valid subsets of the same size, and other sizes;
- before/now: the old preset (8-bit weights, Q/DQ on the logits) vs the new one (7-bit weights, float
  logits), optimized kernels vs float emulation, and how many test images have tied top-2 logits.

    python benchmarks/int8_reproducibility.py --work /tmp/int8-repro

Writes ``benchmarks/results/int8_reproducibility.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import platform
import sys
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from se_deploy import model_metadata  # noqa: E402
from se_deploy.bench.environment import cpu_isa, cpu_model  # noqa: E402
from se_deploy.data.digits import write_digits_folder  # noqa: E402
from se_deploy.data.images import load_image, scan_image_folder  # noqa: E402
from se_deploy.export.job import ExportRequest, run_export  # noqa: E402
from se_deploy.precision.int8 import QUANT_PRESETS, QuantSettings, quantize_int8  # noqa: E402
from se_deploy.rewrite.surgery import fuse_se  # noqa: E402

MODELS = ("se_resnet_tiny", "resnet_tiny")
BEFORE = dataclasses.replace(QUANT_PRESETS["onnxruntime"], reduce_range=False)  # the preset until 2026-12-01
DESCRIBE = {
    "before": "8-bit weights, quantized logits (the build until 2026-12-01)",
    "now": "7-bit weights (reduce_range), float logits",
}


def quant_params(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {
        i.name: numpy_helper.to_array(i) for i in model.graph.initializer if i.name.endswith(("_scale", "_zero_point"))
    }


def params_differ(a: onnx.ModelProto, b: onnx.ModelProto) -> float:
    pa, pb = quant_params(a), quant_params(b)
    assert pa.keys() == pb.keys()
    return max(float(np.abs(pa[k].astype(np.float64) - pb[k].astype(np.float64)).max()) for k in pa)


def run(model: onnx.ModelProto, x: np.ndarray, *, optimize: bool = True, threads: int = 1) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: x[i : i + 64]})[0] for i in range(0, len(x), 64)])


def study(name: str, work: Path) -> dict[str, object]:
    """All experiments for one model."""
    source = work / "repo" / name / "1" / "model.onnx"
    if not source.exists():
        weights = ROOT / "weights" / "digits" / f"{name}.safetensors"
        run_export(ExportRequest(model=name, output=work / "repo", weights=str(weights), with_twin=False))
    fp32 = onnx.load(str(source))
    pre = model_metadata.preprocessing_of(fp32)
    assert pre is not None
    fused = fuse_se(fp32).model if name.startswith("se_") else fp32
    test = scan_image_folder(work / "test").images
    x = np.stack([load_image(i.path, pre) for i in test])
    labels = np.array([i.label for i in test])
    train = scan_image_folder(work / "train").images
    train_x = np.stack([load_image(i.path, pre) for i in train])
    fp32_logits = run(fp32, x)
    reference = fp32_logits.argmax(1)

    def evenly(count: int, offset: float = 0.0) -> np.ndarray:
        step = len(train_x) / count
        return np.array([int((i + offset) * step) for i in range(count)])

    def quantize(
        indices: np.ndarray,
        batch: int = 8,
        order: np.ndarray | None = None,
        float_outputs: bool = True,
        settings: QuantSettings = QUANT_PRESETS["onnxruntime"],
    ) -> onnx.ModelProto:
        chosen = train_x[indices if order is None else indices[order]]
        batches = [chosen[i : i + batch] for i in range(0, len(chosen), batch)]
        return quantize_int8(fused, batches, settings=settings, float_outputs=float_outputs).model

    def score(model: onnx.ModelProto, **options: object) -> dict[str, object]:
        predicted = run(model, x, **options).argmax(1)  # type: ignore[arg-type]
        return {
            "top1": round(float((predicted == labels).mean()) * 100, 2),
            "disagree_vs_fp32": int((predicted != reference).sum()),
            "predictions": predicted,
        }

    default = evenly(256)
    a, b = quantize(default), quantize(default)
    shuffled = quantize(default, order=np.random.default_rng(0).permutation(256))
    single = quantize(default, batch=1)
    row: dict[str, object] = {
        "fp32_top1": round(float((reference == labels).mean()) * 100, 2),
        "determinism": {
            "same_build_twice_params_max_abs_diff": params_differ(a, b),
            "same_build_twice_identical_bytes": a.SerializeToString() == b.SerializeToString(),
            "shuffled_calibration_order_params_max_abs_diff": params_differ(a, shuffled),
            "batch_1_vs_8_params_max_abs_diff": params_differ(a, single),
        },
    }
    kernels = {
        "optimized_1_thread": score(a, optimize=True, threads=1),
        "optimized_2_threads": score(a, optimize=True, threads=2),
        "unoptimized_float_emulation": score(a, optimize=False, threads=1),
    }
    base = kernels["optimized_1_thread"]["predictions"]
    emulated = kernels["unoptimized_float_emulation"]["predictions"]
    row["kernels"] = {k: {kk: vv for kk, vv in v.items() if kk != "predictions"} for k, v in kernels.items()}
    row["kernels"]["optimized_vs_emulation_prediction_changes"] = int((base != emulated).sum())  # type: ignore[index]
    row["kernels"]["threads_1_vs_2_prediction_changes"] = int(  # type: ignore[index]
        (base != kernels["optimized_2_threads"]["predictions"]).sum()
    )
    subsets = {}
    for offset in (0.0, 0.25, 0.5, 0.75):
        got = score(quantize(evenly(256, offset)))
        subsets[f"256 evenly spread, offset {offset}"] = {k: v for k, v in got.items() if k != "predictions"}
    for count in (64, 128, len(train_x)):
        got = score(quantize(evenly(count)))
        subsets[f"{count} evenly spread"] = {k: v for k, v in got.items() if k != "predictions"}
    row["calibration_selection"] = subsets
    before = quantize(default, float_outputs=False, settings=BEFORE)
    for label, model in (("before", before), ("now", a)):
        optimized, emulated = run(model, x), run(model, x, optimize=False)
        top = np.sort(optimized, axis=1)
        row[f"{label}: {DESCRIBE[label]}"] = {
            "top1_optimized": round(float((optimized.argmax(1) == labels).mean()) * 100, 2),
            "top1_float_emulation": round(float((emulated.argmax(1) == labels).mean()) * 100, 2),
            "disagree_vs_fp32_optimized": int((optimized.argmax(1) != reference).sum()),
            "optimized_vs_emulation_prediction_changes": int((optimized.argmax(1) != emulated.argmax(1)).sum()),
            "max_abs_logit_optimized_vs_emulation": round(float(np.abs(optimized - emulated).max()), 3),
            "max_abs_logit_emulation_vs_fp32": round(float(np.abs(emulated - fp32_logits).max()), 3),
            "test_images_whose_top2_logits_tie": int((top[:, -1] == top[:, -2]).sum()),
        }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/int8-repro"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "int8_reproducibility.json")
    args = parser.parse_args()
    work = args.work
    for split in ("train", "test"):
        if not (work / split).exists():
            write_digits_folder(work / split, split=split)
    results: dict[str, object] = {}
    for name in MODELS:
        row = study(name, work)
        results[name] = row
        print(name, json.dumps(row, indent=1), flush=True)

    import onnxruntime
    import torch

    payload = {
        "date": dt.date.today().isoformat(),
        "command": "python benchmarks/int8_reproducibility.py",
        "machine": {
            "cpu": cpu_model(),
            "isa": cpu_isa(),
            "cores": __import__("os").cpu_count(),
            "python": platform.python_version(),
        },
        "versions": {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__, "torch": torch.__version__},
        "test_images": 450,
        "results": results,
    }
    args.out.write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
