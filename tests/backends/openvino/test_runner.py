"""The OpenVINO backend: same outputs as ONNX Runtime (stock, fused with functions inlined, twin) as a bench peer,
skipped cleanly without OpenVINO."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import onnx
import pytest

from se_deploy.backends.onnxruntime.runner import OnnxRuntimeRunner
from se_deploy.backends.openvino.runner import OpenVINORunner, inline_for_openvino
from se_deploy.bench.job import BenchRequest, run_bench
from se_deploy.bench.peers import backend_peer_runners
from se_deploy.rewrite.fused_op import DOMAIN
from se_deploy.rewrite.surgery import fuse_se, strip_se

openvino = pytest.importorskip("openvino", reason="the openvino peer needs `pip install openvino` (test extra)")


@pytest.fixture(scope="module")
def onnx_files(digits_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("openvino")
    stock = onnx.load(str(digits_models["se_resnet_tiny"]))
    paths = {"stock": digits_models["se_resnet_tiny"], "fused": folder / "fused.onnx", "twin": folder / "twin.onnx"}
    onnx.save(fuse_se(stock).model, str(paths["fused"]))
    onnx.save(strip_se(stock).model, str(paths["twin"]))
    return paths


def test_openvino_cannot_read_the_fused_node_without_inlining(onnx_files: dict[str, Path]) -> None:
    with pytest.raises(RuntimeError):
        openvino.Core().read_model(str(onnx_files["fused"]))
    inlined = inline_for_openvino(onnx.load(str(onnx_files["fused"])))
    assert not inlined.functions and all(node.domain != DOMAIN for node in inlined.graph.node)
    assert DOMAIN not in {o.domain for o in inlined.opset_import}


@pytest.mark.parametrize("variant", ["stock", "fused", "twin"])
def test_outputs_match_onnx_runtime(onnx_files: dict[str, Path], variant: str, tmp_path: Path) -> None:
    runner = OpenVINORunner(onnx_files[variant], threads=2, work=tmp_path)
    reference = OnnxRuntimeRunner(onnx_files[variant], threads=2)
    for batch in (1, 3):
        data = np.random.default_rng(batch).standard_normal((batch, 3, 32, 32)).astype(np.float32)
        want, got = reference.infer(data), runner.infer(data)
        assert got.shape == want.shape == (batch, 10) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_skipped_with_a_note_without_openvino(
    onnx_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_openvino(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError("No module named 'openvino'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openvino)
    notes: list[str] = []
    sources = {"stock": onnx_files["stock"], "fused": onnx_files["stock"], "twin": onnx_files["twin"]}
    runners = backend_peer_runners(("openvino",), sources, tmp_path, threads=1, notes=notes)
    assert runners == {}
    assert notes == ["openvino: skipped (the openvino peer needs OpenVINO: pip install openvino)"]


def test_bench_measures_the_openvino_peer(onnx_files: dict[str, Path], tmp_path: Path) -> None:
    report = run_bench(
        BenchRequest(
            model=str(onnx_files["stock"]),  # an .onnx path: OpenVINO needs no PyTorch model, unlike the torch peers
            batches=(2,),
            peers=("openvino",),
            rounds=2,
            iterations=1,
            warmup=1,
            threads=1,
            work=tmp_path,
        )
    )
    rows = {(r["backend"], r["variant"]) for r in report.results}
    assert {("openvino", v) for v in ("stock", "fused", "twin")} <= rows
    (overhead,) = [r for r in report.overhead if r["backend"] == "openvino"]
    assert overhead["stock_vs_twin"] > 0 and overhead["fused_vs_twin"] > 0
    assert any(note.startswith(f"openvino {openvino.__version__}") for note in report.notes)
