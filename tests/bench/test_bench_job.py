"""`se-deploy bench` end to end on the digits model: the JSON follows the schema, Markdown and PNGs are written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from se_deploy.backends.onnxruntime.native.platform import current_platform
from se_deploy.bench.job import BenchRequest, run_bench
from se_deploy.cli import main
from se_deploy.errors import InvalidArgumentError

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "weights" / "digits"


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory, digits_folders: dict[str, Path]) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench")
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "--model",
            "se_resnet_tiny",
            "--weights",
            str(WEIGHTS / "se_resnet_tiny.safetensors"),
            "--baseline",
            "resnet_tiny",
            "--baseline-weights",
            str(WEIGHTS / "resnet_tiny.safetensors"),
            "--data",
            str(digits_folders["test"]),
            "--batch",
            "1,4",
            "--rounds",
            "3",
            "--iterations",
            "2",
            "--peers",
            "torch",
            "--profile",
            "--out",
            str(out),
            "--json",
            str(out / "copy.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads((out / "report.json").read_text()), out


def test_json_follows_the_schema(bench_run: tuple[dict, Path]) -> None:
    report, out = bench_run
    assert report["schema"] == "se-deploy/bench/1"
    assert json.loads((out / "copy.json").read_text()) == report
    assert {"cpu", "cores", "threads", "versions", "date"} <= set(report["environment"])
    variants = {(r["backend"], r["variant"]) for r in report["results"]}
    assert variants >= {("onnxruntime", v) for v in ("stock", "fused", "fused-portable", "twin", "baseline")} | {
        ("torch-eager", "stock")
    }
    for row in report["results"]:
        assert set(row) >= {"variant", "backend", "precision", "batch", "latency_ms", "throughput_ips"}
        assert set(row["latency_ms"]) == {"p50", "p90", "p99", "mean"}
        assert row["latency_ms"]["p50"] <= row["latency_ms"]["p99"] and row["throughput_ips"] > 0
    ort = [r for r in report["overhead"] if r["backend"] == "onnxruntime"]
    assert [r["batch"] for r in ort] == [1, 4]
    for row in ort:
        assert set(row) >= {"backend", "precision", "batch", "stock_vs_twin", "fused_vs_twin"}
        assert row["stock_vs_twin"] > 0 and row["fused_vs_twin"] > 0 and row["fused_portable_vs_twin"] > 0
    eager = [r for r in report["overhead"] if r["backend"] == "torch-eager"]
    assert eager and all(r["fused_vs_twin"] is None for r in eager)
    built = {(e["backend"], e["variant"]): " ".join(e["summary"] + e["notes"]) for e in report["engines"]}
    assert set(built) == {("onnxruntime", v) for v in ("stock", "fused", "fused-portable", "twin", "baseline")}
    assert re.search(
        r"SE-native: \d of 4 SE blocks rewritten|SE-native graphs not built", built["onnxruntime", "fused"]
    )
    assert "SE-native" not in built["onnxruntime", "fused-portable"]
    assert "## Engines" in (out / "report.md").read_text()


def test_accuracy_fidelity_and_profile(bench_run: tuple[dict, Path]) -> None:
    report, _ = bench_run
    accuracy = {r["variant"]: r["top1"] for r in report["accuracy"]}
    assert accuracy["stock"] == accuracy["fused"] > 0.95 and accuracy["baseline"] > 0.95
    for row in report["fidelity"]:
        assert row["top1_agreement"] == 1.0 and row["max_abs_error"] < 1e-3  # FP32 vs PyTorch, twin vs PyTorch twin
    categories = {r["category"] for r in report["profile"] if r["variant"] == "stock"}
    assert "convolutions and the rest" in categories
    assert abs(sum(r["share"] for r in report["profile"] if r["variant"] == "twin") - 1.0) < 1e-6
    native = {r["category"] for r in report["profile"] if r["variant"] == "fused"}  # the SE-native engine's graph
    assert "SE-native scale (+ residual, ReLU) conv" in native
    folded = {"convolutions with the SE gate folded into their weights", "SE gate x conv weights (folding)"}
    if current_platform().nchwc_block == 8:  # the first stage's block folds at batch 1 (native/fold.py)
        assert folded <= native


def test_markdown_and_plots(bench_run: tuple[dict, Path]) -> None:
    _, out = bench_run
    text = (out / "report.md").read_text()
    assert "## SE overhead" in text and "| onnxruntime | fp32 | 1 |" in text and "## Accuracy" in text
    for png in ("latency.png", "overhead.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_requests() -> None:
    with pytest.raises(InvalidArgumentError, match="needs calibration"):
        run_bench(BenchRequest(model="se_resnet_tiny", precisions=("int8",)))
    with pytest.raises(InvalidArgumentError, match="unknown backend"):
        run_bench(BenchRequest(model="se_resnet_tiny", backends=("openvino",)))
    with pytest.raises(InvalidArgumentError, match="no SE blocks"):
        run_bench(BenchRequest(model="resnet_tiny"))
    with pytest.raises(InvalidArgumentError, match="at least 2"):
        run_bench(BenchRequest(model="se_resnet_tiny", rounds=1))


def test_torch_backend_without_a_gpu_says_why() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(InvalidArgumentError, match="runs on a CUDA GPU") as raised:
        run_bench(BenchRequest(model="se_resnet_tiny", backends=("torch",), rounds=2, iterations=1, batches=(1,)))
    assert "not built yet" not in str(raised.value)  # the torch runtime exists (issue #6): only the GPU is missing


def test_bench_runs_a_model_with_free_spatial_dims_at_the_given_input_shape(tmp_path: Path) -> None:
    from tests.fixtures.foreign import manifest

    model = str(manifest.HERE / "torch_legacy_senet_opset13_dynamic_hw.onnx")
    quick = {"batches": (1,), "rounds": 2, "iterations": 1, "warmup": 0, "work": tmp_path / "work"}
    with pytest.raises(InvalidArgumentError, match=r"dim 2 \('height'\)"):
        run_bench(BenchRequest(model=model, **quick))
    report = run_bench(BenchRequest(model=model, input_shapes={"x": (1, 3, 48, 80)}, **quick))
    assert report.models["se_blocks"] == 4 and report.results
