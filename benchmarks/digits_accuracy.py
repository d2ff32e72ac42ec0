"""The README's digits accuracy table: FP32/FP16/INT8 engines of the committed digits weights.

Default builds (fused, U8S8 INT8 calibrated on 256 train images) as ``se-deploy build`` makes them;
``se-deploy eval`` figures on the 450 test images, and the paired INT8/FP16-vs-FP32 comparison on the
4,050 shifted test images that ``tests/bench/test_accuracy.py`` accepts on.

    python benchmarks/digits_accuracy.py --work /tmp/digits-accuracy

Writes ``benchmarks/results/digits_accuracy.json`` and prints the Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from se_deploy import model_metadata  # noqa: E402
from se_deploy.backends.base import BuildRequest  # noqa: E402
from se_deploy.backends.onnxruntime.build import build_onnxruntime_engine  # noqa: E402
from se_deploy.backends.onnxruntime.runner import OnnxRuntimeRunner  # noqa: E402
from se_deploy.bench.accuracy import evaluate  # noqa: E402
from se_deploy.bench.agreement import compare_predictions  # noqa: E402
from se_deploy.bench.environment import cpu_isa, cpu_model  # noqa: E402
from se_deploy.data.digits import shifted_digits, write_digits_folder  # noqa: E402
from se_deploy.data.images import preprocess_image  # noqa: E402
from se_deploy.export.job import ExportRequest, run_export  # noqa: E402
from se_deploy.onnx_io import load_onnx  # noqa: E402
from se_deploy.prepare import Preparation  # noqa: E402

MODELS = ("se_resnet_tiny", "resnet_tiny")
PRECISIONS = ("fp32", "fp16", "int8")


def top1(engine: Path, inputs: np.ndarray) -> np.ndarray:
    runner = OnnxRuntimeRunner(engine)
    return np.concatenate([runner.infer(inputs[i : i + 512]).argmax(1) for i in range(0, len(inputs), 512)])


def criterion_checks(work: Path, images: np.ndarray, labels: np.ndarray) -> list[dict[str, object]]:
    """The paired criterion on the old build and on deliberately broken calibrations (what it must catch)."""
    import dataclasses
    import tempfile

    import onnx

    from se_deploy.precision.calibration import load_calibration_set
    from se_deploy.precision.int8 import QUANT_PRESETS, quantize_int8
    from se_deploy.rewrite.surgery import fuse_se

    out = []
    for name in MODELS:
        source = work / "repo" / name / "1" / "model.onnx"
        fp32 = load_onnx(source)
        fused = fuse_se(fp32).model
        preprocessing = model_metadata.preprocessing_of(fp32)
        assert preprocessing is not None
        inputs = np.stack([preprocess_image(image, preprocessing) for image in images])
        reference = top1(source, inputs)
        calibration = list(load_calibration_set(work / "train", preprocessing, samples=256))
        unnormalized = dataclasses.replace(preprocessing, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
        preset = QUANT_PRESETS["onnxruntime"]
        cases = {
            "old build: 8-bit weights, quantized logits": (
                calibration,
                dataclasses.replace(preset, reduce_range=False),
                False,
            ),
            "broken: calibrated on 1 image": (
                list(load_calibration_set(work / "train", preprocessing, samples=1)),
                preset,
                True,
            ),
            "broken: calibrated without mean/std": (
                list(load_calibration_set(work / "train", unnormalized, samples=256)),
                preset,
                True,
            ),
            "broken: ranges clipped to half": ([batch * 0.5 for batch in calibration], preset, True),
        }
        for case, (batches, settings, float_outputs) in cases.items():
            model = quantize_int8(fused, batches, settings=settings, float_outputs=float_outputs).model
            with tempfile.TemporaryDirectory() as scratch:
                path = Path(scratch) / "int8.onnx"
                onnx.save(model, str(path))
                paired = compare_predictions(labels, reference, top1(path, inputs))
            out.append({"model": name, "case": case} | paired.to_dict() | {"failures": paired.failures()})
            print(
                f"{name} | {case} | {paired.disagreements} | {paired.disagreement_upper:.2%} | "
                f"{paired.top1_drop_upper:.2%} | {'FAILS' if paired.failures() else 'passes'}"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/digits-accuracy"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "digits_accuracy.json")
    args = parser.parse_args()
    work = args.work
    for split in ("train", "test"):
        if not (work / split).exists():
            write_digits_folder(work / split, split=split)
    images, labels = shifted_digits("test")
    rows = []
    for name in MODELS:
        source = work / "repo" / name / "1" / "model.onnx"
        if not source.exists():
            weights = ROOT / "weights" / "digits" / f"{name}.safetensors"
            run_export(ExportRequest(model=name, output=work / "repo", weights=str(weights), with_twin=False))
        preprocessing = model_metadata.preprocessing_of(load_onnx(source))
        assert preprocessing is not None
        inputs = np.stack([preprocess_image(image, preprocessing) for image in images])
        engines = {}
        for precision in PRECISIONS:
            engine = work / "engines" / f"{name}-{precision}"
            calib = work / "train" if precision == "int8" else None
            preparation = Preparation(precision=precision, calib=calib, calib_samples=256)
            request = BuildRequest(source, engine, preparation, force=True)
            engines[precision] = build_onnxruntime_engine(request).engine_dir
        reference = top1(engines["fp32"], inputs)
        for precision in PRECISIONS:
            result = evaluate(engines[precision], work / "test")
            assert result.fidelity is not None and result.top1 is not None
            row: dict[str, object] = {
                "model": name,
                "precision": precision,
                "top1": result.top1,
                "agreement": result.fidelity.top1_agreement,
                "max_abs_error": result.fidelity.max_abs_error,
                "cosine": result.fidelity.cosine,
            }
            if precision != "fp32":
                paired = compare_predictions(labels, reference, top1(engines[precision], inputs))
                row["shifted_vs_fp32"] = paired.to_dict() | {"failures": paired.failures()}
            rows.append(row)
    import onnx
    import onnxruntime
    import torch

    checks = criterion_checks(work, images, labels)

    payload = {
        "date": dt.date.today().isoformat(),
        "command": "python benchmarks/digits_accuracy.py",
        "machine": {
            "cpu": cpu_model(),
            "isa": cpu_isa(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
        },
        "versions": {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__, "torch": torch.__version__},
        "rows": rows,
        "criterion_checks": checks,
    }
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(
        "| model | precision | top-1 (450) | agreement vs PyTorch FP32 | max abs err | cosine | "
        "disagree vs FP32 (4,050 shifted) | 99% upper bound | top-1 drop, 99% upper bound |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        paired = row.get("shifted_vs_fp32")
        extra = (
            f"{paired['disagreements']} | {paired['disagreement_upper']:.2%} | "
            f"{paired['top1_drop']:+.2%}, {paired['top1_drop_upper']:.2%}"
            if isinstance(paired, dict)
            else "- | - | -"
        )
        print(
            f"| {row['model']} | {str(row['precision']).upper()} | {row['top1']:.2%} | {row['agreement']:.2%} | "
            f"{row['max_abs_error']:.2g} | {row['cosine']:.6f} | {extra} |"
        )


if __name__ == "__main__":
    main()
