"""SE-native engines built from a real export (the digits se_resnet_tiny), run by ORT on this CPU."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

import se_deploy
from se_deploy.backends.base import BuildRequest
from se_deploy.backends.engine_folder import EngineDescription
from se_deploy.backends.onnxruntime.build import OnnxRuntimeOptions, build_onnxruntime_engine
from se_deploy.backends.onnxruntime.native import build as native_build
from se_deploy.backends.onnxruntime.native.build import NativeVerificationError
from se_deploy.backends.onnxruntime.native.optimize import fix_batch, optimize_with_ort
from se_deploy.backends.onnxruntime.native.platform import current_platform
from se_deploy.cli import main
from se_deploy.errors import InvalidArgumentError
from se_deploy.image_like import image_like_inputs
from se_deploy.onnx_compare import session
from se_deploy.prepare import Preparation
from se_deploy.serve.package import package

pytestmark = pytest.mark.skipif(
    current_platform().nchwc_block is None, reason="ONNX Runtime uses no NCHWc layout on this CPU"
)


@pytest.fixture(scope="module")
def native_engine(tmp_path_factory: pytest.TempPathFactory, digits_models: dict[str, Path]) -> Path:
    engine = tmp_path_factory.mktemp("native") / "engine"
    build_onnxruntime_engine(
        BuildRequest(digits_models["se_resnet_tiny"], engine), OnnxRuntimeOptions(max_batch=4, hoist_squeeze=True)
    )
    return engine


def test_every_bucket_is_written_verified_and_described(native_engine: Path) -> None:
    native = EngineDescription.read(native_engine).native
    assert native is not None and native["buckets"] == [1, 2, 4]
    assert all((native_engine / name).is_file() for name in native["files"].values())
    assert [v["batch"] for v in native["verification"]] == [1, 2, 4]
    assert all(
        v["passed"] and v["max_relative_error"] < 1e-5 and v["top1_agreement"] == 1.0 for v in native["verification"]
    )
    platform = current_platform()
    assert native["platform"] == platform.to_dict() and platform.nchwc_block in (8, 16)
    blocks = native["blocks"]
    assert len(blocks) == 4 and all(b["native"] or b["reason"] for b in blocks)
    # SE widths 32..256 are block-aligned at 8 and 16; ORT keeps the 1x1 last one blocked
    assert [b["native"] for b in blocks] == [True, True, True, False]
    assert all(b["residual"] for b in blocks[:3])
    assert "already keeps this SE block in the blocked layout" in blocks[3]["reason"]
    # hoisting squeezes conv3's input: widths 8, 16, 32, aligned from the first block at 8, the second at 16
    assert [b["hoisted"] for b in blocks[:3]] == ([True] * 3 if platform.nchwc_block == 8 else [False, True, True])
    graph = onnx.load(str(native_engine / native["files"]["4"]))
    groups = sorted(
        a.i
        for n in graph.graph.node
        if n.domain == "com.microsoft.nchwc" and n.op_type == "Conv"
        for a in n.attribute
        if a.name == "group" and a.i > 1
    )
    # one scaling conv per block (group N*C), or, where the gate is folded, conv3 as one group=N conv over the batch;
    # width 8 folds its first stage at block 8 only (tests/backends/onnxruntime/native/test_fold.py: both sizes)
    folded = sum(b["folded"] for b in blocks)
    assert native["fold_gate"]["folded_blocks"]["4"] == folded == (1 if platform.nchwc_block == 8 else 0)
    expected = [4 if b["folded"] else 4 * b["channels"] for b in blocks if b["native"]]
    assert groups == sorted(expected)


def test_bucket_graphs_share_one_weights_file(native_engine: Path) -> None:
    native = EngineDescription.read(native_engine).native
    assert native is not None
    weights = native["weights"]
    assert weights["file"] == "native/weights.bin"
    assert (native_engine / weights["file"]).stat().st_size == weights["bytes"]
    # three buckets of the same weights stored once (alignment padding aside)
    assert weights["bytes"] < 0.5 * weights["bytes_if_inline"] and weights["tensors"] == 3 * weights["distinct_tensors"]
    for name in native["files"].values():
        graph = onnx.load(str(native_engine / name), load_external_data=False)
        external = [t for t in graph.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
        assert external and all(
            e.value == "weights.bin" for t in external for e in t.external_data if e.key == "location"
        )
        assert (native_engine / name).stat().st_size < weights["bytes"] / 2


@pytest.mark.parametrize("n", [1, 3, 4, 6])
def test_load_serves_any_batch_by_padding_and_chunking(
    native_engine: Path, digits_models: dict[str, Path], n: int
) -> None:
    engine = se_deploy.load(native_engine)
    batch = image_like_inputs((n, 3, 32, 32), seed=n)
    stock = session(onnx.load(str(digits_models["se_resnet_tiny"]))).run(None, {"input": batch})[0]
    got = engine(batch)
    assert got.shape == (n, 10)
    np.testing.assert_allclose(got, stock, rtol=1e-4, atol=1e-5)


def test_load_refuses_an_engine_built_for_another_platform(native_engine: Path, tmp_path: Path) -> None:
    for key, value in (("onnxruntime", "1.0.0"), ("isa", "sse4_1"), ("nchwc_block", 4)):
        copy = tmp_path / key
        shutil.copytree(native_engine, copy)
        raw = json.loads((copy / "engine.json").read_text())
        raw["native"]["platform"][key] = value
        (copy / "engine.json").write_text(json.dumps(raw))
        with pytest.raises(InvalidArgumentError, match=r"built for another platform .* rebuild it on this machine"):
            se_deploy.load(copy)


def test_a_graph_that_disagrees_with_stock_is_refused_and_nothing_is_written(
    tmp_path: Path, digits_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = native_build.rewrite_native_folded

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real(*args, **kwargs)
        for node in result.model.graph.node:  # drop the fused Relu: relu(s*x + r) becomes s*x + r
            kept = [
                a
                for a in node.attribute
                if not (
                    node.op_type == "Conv"
                    and a.name == "activation"
                    and a.s == b"Relu"
                    and any(b.name == "group" and b.i > 1 for b in node.attribute)
                )
            ]
            del node.attribute[:]
            node.attribute.extend(kept)
        return result

    monkeypatch.setattr(native_build, "rewrite_native_folded", broken)
    with pytest.raises(NativeVerificationError, match=r"does not reproduce stock ONNX Runtime .* --portable"):
        build_onnxruntime_engine(
            BuildRequest(digits_models["se_resnet_tiny"], tmp_path / "engine"), OnnxRuntimeOptions(max_batch=1)
        )
    assert list(tmp_path.iterdir()) == []


def test_a_weights_file_that_does_not_reproduce_stock_is_refused(
    tmp_path: Path, digits_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine is checked as written: graphs reading a wrong weights file fail the build, nothing is left."""
    real = native_build.share_weights

    def scrambled(graphs):  # type: ignore[no-untyped-def]
        shared = real(graphs)
        return dataclasses.replace(shared, data=shared.data[::-1])  # same size, wrong bytes

    monkeypatch.setattr(native_build, "share_weights", scrambled)
    with pytest.raises(NativeVerificationError, match=r"as written to disk does not reproduce stock ONNX Runtime"):
        build_onnxruntime_engine(
            BuildRequest(digits_models["se_resnet_tiny"], tmp_path / "engine"), OnnxRuntimeOptions(max_batch=2)
        )
    assert list(tmp_path.iterdir()) == []


def test_portable_and_non_fp32_engines_have_no_native_graphs(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    source = digits_models["se_resnet_tiny"]
    portable = build_onnxruntime_engine(
        BuildRequest(source, tmp_path / "p"), OnnxRuntimeOptions(native=False)
    ).description
    assert portable.native is None and not (tmp_path / "p" / "native").exists()
    fp16 = build_onnxruntime_engine(BuildRequest(source, tmp_path / "h", Preparation(precision="fp16"))).description
    assert fp16.native is None and any("FP32 and INT8 CPU engines only" in note for note in fp16.notes)


def test_int8_graphs_have_no_blocked_layout_to_rewrite(
    tmp_path: Path, digits_models: dict[str, Path], digits_folders: dict[str, Path]
) -> None:
    """Why INT8 engines get their own fold (int8_fold.py) instead of the NCHWc rewrite: ORT runs U8S8 Q/DQ graphs
    channels-last (QLinearConv & co.), never NCHWc. If an ORT version starts blocking quantized convs, this fails."""
    preparation = Preparation(precision="int8", calib=digits_folders["train"], calib_samples=16)
    built = build_onnxruntime_engine(BuildRequest(digits_models["se_resnet_tiny"], tmp_path / "q", preparation))
    assert built.description.native is not None and built.description.native["kind"] == "int8-fold"
    optimized = optimize_with_ort(fix_batch(onnx.load(str(tmp_path / "q" / "model.onnx")), 1), tmp_path / "o.onnx")
    ops = {(n.domain, n.op_type) for n in optimized.graph.node}
    assert ("com.microsoft", "QLinearConv") in ops and ("com.microsoft", "QLinearMul") in ops
    assert not [op for op in ops if op[0] == "com.microsoft.nchwc"]


def test_cli_build_reports_native_blocks_and_fallbacks(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    source = str(digits_models["se_resnet_tiny"])
    result = CliRunner().invoke(main, ["build", source, "-o", str(tmp_path / "e"), "--max-batch", "2"])
    assert result.exit_code == 0, result.output
    assert "SE-native:" in result.stdout and "batch buckets 1, 2" in result.stdout
    if current_platform().nchwc_block == 8:
        assert "left as ONNX Runtime optimized it" in result.stderr
        stdout, stderr = " ".join(result.stdout.split()), " ".join(result.stderr.split())
        assert "SE gate folded into a conv's weights in 1 blocks at batch 1, 1 blocks at batch 2 (conv3" in stdout
        assert "gate not folded into conv3 (the weight is not smaller than the activation" in stderr
    result = CliRunner().invoke(main, ["build", source, "-o", str(tmp_path / "p"), "--portable"])
    assert result.exit_code == 0 and "SE-native" not in result.stdout
    result = CliRunner().invoke(main, ["build", source, "-o", str(tmp_path / "n"), "--max-batch", "2", "--no-fold"])
    assert result.exit_code == 0, result.output
    fold = EngineDescription.read(tmp_path / "n").native["fold_gate"]
    assert fold["enabled"] is False and set(fold["folded_blocks"].values()) == {0}
    assert "folded into conv3" not in result.stdout and "not folded into conv3" not in result.stderr
    result = CliRunner().invoke(main, ["build", source, "-o", str(tmp_path / "z"), "--max-batch", "0"])
    # a usage error, like every count below its minimum (click.IntRange): exit 2, the option named
    assert result.exit_code == 2 and "--max-batch" in result.stderr and "x>=1" in result.stderr


def test_package_serves_the_portable_graph_and_says_why(native_engine: Path, tmp_path: Path) -> None:
    (packaged,) = package([native_engine], tmp_path / "repo", names=["tiny"])
    assert packaged.config.startswith("# SE-native graphs not packaged")
    assert (tmp_path / "repo" / "tiny" / "1" / "model.onnx").is_file()
    assert "max_batch_size: 64" in packaged.config


def test_fold_notes_group_blocks_that_fail_for_the_same_reason() -> None:
    from se_deploy.backends.onnxruntime.native.rewrite import BlockOutcome

    def block(name: str, hw: int, folded: bool = False) -> BlockOutcome:
        reason = "" if folded else f"Cin=384 >= H*W={hw}"
        return BlockOutcome(name, 64, True, folded=folded, fold_reason=reason, consumer_fold_reason="no conv after")

    blocks = [block(f"mul_{i}", 289) for i in range(5)] + [block("mul_8x8", 64), block("mul_ok", 0, folded=True)]
    notes = native_build._fold_notes(blocks)  # "{batches}": filled in with the buckets a note holds at
    assert len(notes) == 2
    assert notes[0].startswith("SE-native: 5 SE blocks (mul_0, mul_1, mul_2, ... (2 more)) at {batches}: ")
    assert "(Cin=384 >= H*W=289)" in notes[0] and "(no conv after)" in notes[0]
    assert notes[1].startswith("SE-native: SE block mul_8x8 at {batches}: ") and "H*W=64" in notes[1]
    assert not any("mul_ok" in note for note in notes)


def test_a_cpu_where_ort_blocks_nothing_gets_the_portable_engine_with_the_reason(
    tmp_path: Path, digits_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ARM, or an x86 ORT build without NCHWc: the probe finds no block size, and the build says so."""
    from se_deploy.backends.onnxruntime import build as ort_build
    from se_deploy.backends.onnxruntime.native.platform import NativePlatform

    here: NativePlatform = current_platform()
    monkeypatch.setattr(ort_build, "current_platform", lambda: dataclasses.replace(here, isa="neon", nchwc_block=None))
    result = build_onnxruntime_engine(BuildRequest(digits_models["se_resnet_tiny"], tmp_path / "engine"))
    assert result.description.native is None and not (tmp_path / "engine" / "native").exists()
    assert any("uses no blocked (NCHWc) layout on this CPU (neon)" in note for note in result.description.notes)
