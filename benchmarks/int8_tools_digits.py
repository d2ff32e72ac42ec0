"""INT8 PTQ tools compared on real data: ONNX Runtime's quantizer vs NVIDIA TensorRT Model Optimizer.

Digits SE-ResNet (committed weights), symmetric S8S8 (TensorRT's settings), 64 calibration images
from the train split, max calibration; accuracy and fidelity vs PyTorch FP32 on the 450 test images.
modelopt pulls onnxruntime-gpu, cupy and an older onnx, so run it from its own environment:

    python -m venv --system-site-packages /tmp/mo && /tmp/mo/bin/pip install "nvidia-modelopt[onnx]"
    /tmp/mo/bin/python benchmarks/int8_tools_digits.py --work /tmp/int8-tools

Writes ``benchmarks/results/int8_tools_digits.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from se_deploy import model_metadata  # noqa: E402
from se_deploy.backends.base import BuildRequest  # noqa: E402
from se_deploy.backends.onnxruntime.build import build_onnxruntime_engine  # noqa: E402
from se_deploy.bench.accuracy import evaluate  # noqa: E402
from se_deploy.data.digits import write_digits_folder  # noqa: E402
from se_deploy.export.job import ExportRequest, run_export  # noqa: E402
from se_deploy.precision.calibration import load_calibration_set  # noqa: E402
from se_deploy.prepare import Preparation  # noqa: E402
from se_deploy.rewrite.surgery import fuse_se  # noqa: E402

SAMPLES = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/int8-tools"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "int8_tools_digits.json")
    args = parser.parse_args()
    work = args.work
    for split in ("train", "test"):
        if not (work / split).exists():
            write_digits_folder(work / split, split=split)
    source = work / "repo" / "se_resnet_tiny" / "1" / "model.onnx"
    if not source.exists():
        weights = ROOT / "weights" / "digits" / "se_resnet_tiny.safetensors"
        run_export(ExportRequest(model="se_resnet_tiny", output=work / "repo", weights=str(weights), with_twin=False))
    rows = []

    def record(tool: str, graph: str, target: Path, seconds: float, error: str | None = None) -> None:
        row: dict[str, object] = {"tool": tool, "graph": graph, "seconds": round(seconds, 1)}
        if error:
            row["error"] = error
        else:
            result = evaluate(target, work / "test")
            row |= {
                "top1": result.top1,
                "top1_agreement": result.fidelity.top1_agreement,
                "cosine": round(result.fidelity.cosine, 6),
            }
        rows.append(row)
        print(row)

    record("none (fp32)", "fused", _ort(source, work / "fp32", "fp32", False), 0.0)
    for graph, quantize_se in (("fused, SE in float", False), ("stock, SE quantized", True)):
        start = time.perf_counter()
        target = _ort(source, work / f"ort-{quantize_se}", "int8", quantize_se)
        record("onnxruntime.quantization", graph, target, time.perf_counter() - start)

    try:
        from modelopt.onnx.quantization import quantize
    except ImportError:
        rows.append({"tool": "nvidia-modelopt", "error": "not installed in this environment (see the docstring)"})
    else:
        data = np.concatenate(
            load_calibration_set(
                work / "train", model_metadata.preprocessing_of(onnx.load(str(source))), samples=SAMPLES
            ).batches
        )
        fused = work / "fused.onnx"
        onnx.save(fuse_se(onnx.load(str(source))).model, str(fused))
        for graph, path in (("stock, SE quantized", source), ("fused, SE in float", fused)):
            target = work / f"modelopt-{graph.split(',')[0]}.onnx"
            start = time.perf_counter()
            try:
                quantize(
                    str(path),
                    quantize_mode="int8",
                    calibration_data={"input": data},
                    calibration_method="max",
                    calibration_eps=["cpu"],
                    output_path=str(target),
                    log_level="ERROR",
                    high_precision_dtype="fp32",
                )
                model = onnx.load(str(target))
                model_metadata.embed(model, model_metadata.read(onnx.load(str(source))))  # modelopt drops it
                onnx.save(model, str(target))
                record("nvidia-modelopt", graph, target, time.perf_counter() - start)
            except Exception as exc:  # record the failure: it is the finding
                record(
                    "nvidia-modelopt",
                    graph,
                    target,
                    time.perf_counter() - start,
                    f"{type(exc).__name__}: {str(exc)[:300]}",
                )
    import onnxruntime

    versions = {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__}
    try:
        import modelopt

        versions["nvidia-modelopt"] = modelopt.__version__
    except ImportError:
        pass
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "int8_tools_digits",
                "date": dt.date.today().isoformat(),
                "command": "python benchmarks/int8_tools_digits.py " + " ".join(sys.argv[1:]),
                "settings": f"S8S8 symmetric, per-channel weights, max/minmax calibration, {SAMPLES} train images",
                "versions": versions,
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )


def _ort(source: Path, target: Path, precision: str, quantize_se: bool) -> Path:
    if not target.exists():
        build_onnxruntime_engine(
            BuildRequest(
                source,
                target,
                Preparation(
                    precision=precision,
                    calib=source.parents[3] / "train" if precision == "int8" else None,
                    calib_samples=SAMPLES,
                    quant_target="tensorrt",
                    quantize_se=quantize_se,
                ),
            )
        )
    return target


if __name__ == "__main__":
    main()
