"""The command line, driven through click's runner (in-process) and as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from se_deploy.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_list_models_json_lists_the_resnet_family_with_paper_figures() -> None:
    code, stdout, _ = run("list-models", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(stdout)}
    assert "se_resnet_tiny" not in rows
    se50 = rows["se_resnet50"]
    assert se50["twin"] == "resnet50" and se50["has_se"]
    assert se50["gmacs"] == pytest.approx(se50["paper"]["gmacs"], rel=0.01)
    assert se50["params_m"] == pytest.approx(28.1, rel=0.01)
    assert se50["paper"]["top1_err"] == 23.29


TEN_SE_MODELS = {
    "se_resnet50": "resnet50",
    "se_resnet101": "resnet101",
    "se_resnet152": "resnet152",
    "se_resnext50_32x4d": "resnext50_32x4d",
    "se_resnext101_32x4d": "resnext101_32x4d",
    "senet154": "senet154_no_se",
    "se_vgg16_bn": "vgg16_bn",
    "se_bn_inception": "bn_inception",
    "se_inception_resnet_v2": "inception_resnet_v2",
    "se_mobilenet": "mobilenet",
    "se_shufflenet_g3": "shufflenet_g3",
}


def test_list_models_shows_the_papers_zoo_with_twins_and_explains_gaps() -> None:
    code, stdout, _ = run("list-models", "--json")
    rows = {row["name"]: row for row in json.loads(stdout)}
    for se_name, twin in TEN_SE_MODELS.items():
        assert rows[se_name]["twin"] == twin and rows[twin]["twin"] == se_name
        for row in (rows[se_name], rows[twin]):
            paper = row["paper"]
            if paper["gmacs"] is not None and not paper["note"]:
                assert row["gmacs"] == pytest.approx(paper["gmacs"], rel=0.02), row["name"]
            if paper["params_m"] is not None and not paper["note"]:
                assert row["params_m"] == pytest.approx(paper["params_m"], rel=0.02), row["name"]
            assert paper["gmacs"] is not None or row["notes"], f"{row['name']}: no paper figure and no reason"
    code, table, _ = run("list-models")
    assert code == 0
    assert "[2] paper's 11.75 GFLOPs not reproducible" in " ".join(table.split())
    assert "truncated" in table and "SENet-154" in table


def test_list_models_table_shows_whole_names() -> None:
    code, stdout, _ = run("list-models", "--all")
    assert code == 0
    for name in ("se_resnet152_tv", "resnet_tiny_basic", "23.29"):
        assert name in stdout


def test_export_tiny_model_and_twin(tmp_path: Path) -> None:
    code, stdout, _ = run("export", "--model", "se_resnet_tiny", "--output", str(tmp_path), "--json")
    assert code == 0, stdout
    result = json.loads(stdout)
    assert [m["name"] for m in result["models"]] == ["se_resnet_tiny", "resnet_tiny"]
    for name in ("se_resnet_tiny", "resnet_tiny"):
        assert (tmp_path / name / "1" / "model.onnx").is_file()
        assert f'name: "{name}"' in (tmp_path / name / "config.pbtxt").read_text()
        meta = json.loads((tmp_path / name / "se_deploy.json").read_text())
        assert meta["verification"]["passed"]
        assert [b["batch"] for b in meta["verification"]["batches"]] == [1, 7]
        assert meta["preprocessing"]["crop_size"] == 32
        assert meta["versions"]["torch"] == torch.__version__
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resnet_tiny", "se_resnet_tiny"]  # no staging left


def test_export_refuses_existing_artifacts_unless_forced(tmp_path: Path) -> None:
    args = ("export", "--model", "resnet_tiny_basic", "--no-twin", "--output", str(tmp_path))
    assert run(*args)[0] == 0
    before = (tmp_path / "resnet_tiny_basic" / "1" / "model.onnx").stat().st_mtime_ns
    code, _, stderr = run(*args)
    assert code == 1 and "already exists" in stderr and "--force" in stderr
    assert (tmp_path / "resnet_tiny_basic" / "1" / "model.onnx").stat().st_mtime_ns == before
    assert run(*args, "--force", "--image-size", "48")[0] == 0
    meta = json.loads((tmp_path / "resnet_tiny_basic" / "se_deploy.json").read_text())
    assert meta["image_size"] == 48


def test_export_with_weights_records_their_hash(tmp_path: Path, tiny_weights: Path) -> None:
    code, _stdout, _ = run(
        "export", "--model", "se_resnet_tiny", "--weights", str(tiny_weights), "--output", str(tmp_path / "m"), "--json"
    )
    assert code == 0
    meta = json.loads((tmp_path / "m" / "se_resnet_tiny" / "se_deploy.json").read_text())
    assert meta["weights"]["source"] == str(tiny_weights) and len(meta["weights"]["sha256"]) == 64
    twin_meta = json.loads((tmp_path / "m" / "resnet_tiny" / "se_deploy.json").read_text())
    assert "copied from se_resnet_tiny" in twin_meta["weights"]["source"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "se_resnet5"), "Did you mean se_resnet50"),
        (("--model", "se_resnet_tiny", "--image-size", "8"), "too small"),
        (("--model", "se_resnet_tiny", "--weights", "/nonexistent/w.pth"), "does not exist"),
        (("--model", "se_resnet_tiny", "--opset", "9"), "opset 9"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    out_dir = tmp_path / "repo"
    code, _, stderr = run("export", *args, "--output", str(out_dir))
    assert code == 1
    assert message in stderr
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_corrupt_and_foreign_weights_are_refused(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"garbage" * 100)
    foreign = tmp_path / "foreign.safetensors"
    from safetensors.torch import save_file

    save_file({"encoder.weight": torch.zeros(2, 2)}, str(foreign))
    for weights, message in ((corrupt, "cannot read"), (foreign, "do not fit se_resnet_tiny")):
        code, _, stderr = run(
            "export", "--model", "se_resnet_tiny", "--weights", str(weights), "--output", str(tmp_path / "o")
        )
        assert code == 1 and message in stderr
    assert not (tmp_path / "o" / "se_resnet_tiny").exists()


def test_unwritable_output_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, _, stderr = run("export", "--model", "se_resnet_tiny", "--output", str(blocker / "models"))
    assert code == 1 and "cannot create output directory" in stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_output_is_refused(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        code, _, stderr = run("export", "--model", "se_resnet_tiny", "--output", str(tmp_path))
        assert code == 1 and "not writable" in stderr
    finally:
        tmp_path.chmod(0o700)


def test_bad_batch_value_is_a_usage_error() -> None:
    code, _, stderr = run("export", "--model", "se_resnet_tiny", "--batch", "zero")
    assert code == 2 and "dynamic" in stderr


def test_cli_shim_equals_console_script() -> None:
    shim = subprocess.run([sys.executable, "cli.py", "list-models", "--json"], cwd=ROOT, capture_output=True, text=True)
    assert shim.returncode == 0, shim.stderr
    assert {row["name"] for row in json.loads(shim.stdout)} >= {"se_resnet50", "resnet50"}


# --- inspect / fuse ---------------------------------------------------------------------------


@pytest.fixture
def se_onnx(tmp_path: Path) -> Path:
    from tests.rewrite.graphs import SEGraph

    path = tmp_path / "se.onnx"
    import onnx

    onnx.save(SEGraph(residual=True).build(), str(path))
    return path


def test_inspect_json_lists_blocks_and_near_misses(se_onnx: Path) -> None:
    code, stdout, _ = run("inspect", str(se_onnx), "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["near_misses"] == []
    (block,) = report["se_blocks"]
    assert block["channels"] == 8 and block["reduced_channels"] == 2
    assert block["residual"] and block["residual_activation"] == "relu"
    assert block["activation"] == "relu" and block["gate"] == "sigmoid" and block["pool"] == "GlobalAveragePool"


def test_inspect_table_shows_near_misses(tmp_path: Path) -> None:
    import onnx

    from tests.rewrite.graphs import SEGraph

    path = tmp_path / "tanh.onnx"
    onnx.save(SEGraph(gate="Tanh").build(), str(path))
    code, stdout, _ = run("inspect", str(path))
    assert code == 0 and "0 SE block(s)" in stdout and "expected a gate" in stdout


def test_fuse_writes_a_verified_model_and_refuses_to_overwrite(se_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "fused.onnx"
    code, stdout, _ = run("fuse", str(se_onnx), "-o", str(out), "--json")
    assert code == 0
    result = json.loads(stdout)
    assert result["fused_ops"] == {"SqueezeExcitationResidual": 1}
    assert result["verification"]["passed"] and result["remaining_se_blocks"] == 0
    import onnx

    assert [n.op_type for n in onnx.load(str(out)).graph.node] == ["SqueezeExcitationResidual"]
    code, _, stderr = run("fuse", str(se_onnx), "-o", str(out))
    assert code == 1 and "--force" in stderr
    code, stdout, _ = run("fuse", str(se_onnx), "-o", str(out), "--force", "--no-residual")
    assert code == 0 and "1 x se_deploy::SqueezeExcitation " in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fused.onnx", "se.onnx"]  # no temp files left


def test_fuse_strip_gives_a_twin_without_se(se_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "twin.onnx"
    code, stdout, _ = run("fuse", str(se_onnx), "-o", str(out), "--strip", "--json")
    assert code == 0
    result = json.loads(stdout)
    assert result["mode"] == "strip" and len(result["se_blocks"]) == 1 and result["remaining_se_blocks"] == 0
    code, stdout, _ = run("inspect", str(out), "--json")
    assert json.loads(stdout)["se_blocks"] == []


def test_fuse_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    import onnx

    from tests.rewrite.graphs import SEGraph

    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07not onnx")
    plain = tmp_path / "plain.onnx"
    onnx.save(SEGraph(gate="Tanh").build(), str(plain))
    cases = [
        ((str(tmp_path / "missing.onnx"), "-o", str(tmp_path / "o.onnx")), "does not exist"),
        ((str(garbage), "-o", str(tmp_path / "o.onnx")), "cannot read"),
        ((str(plain), "-o", str(tmp_path / "o.onnx")), "no SE blocks found"),
        ((str(plain), "-o", str(tmp_path / "no" / "dir" / "o.onnx")), "does not exist"),
    ]
    for args, message in cases:
        code, _, stderr = run("fuse", *args)
        assert code == 1 and message in stderr, (args, stderr)
    assert not (tmp_path / "o.onnx").exists()


# --- make-digits / build / eval -----------------------------------------------------------------


def test_build_and_eval_through_the_cli(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    pytest.importorskip("sklearn")
    code, stdout, _ = run("make-digits", str(tmp_path / "digits"), "--split", "test")
    assert code == 0 and "450 digit images" in stdout
    engine = tmp_path / "engine"
    code, stdout, _ = run(
        "build",
        str(digits_models["se_resnet_tiny"]),
        "-o",
        str(engine),
        "--precision",
        "int8",
        "--calib",
        str(tmp_path / "digits"),
        "--calib-samples",
        "64",
        "--json",
    )
    assert code == 0
    description = json.loads(stdout)
    assert description["precision"] == "int8" and description["precision_details"]["calibration_samples"] == 64
    code, stdout, _ = run("eval", str(engine), "--data", str(tmp_path / "digits"), "--json", "--limit", "100")
    assert code == 0
    result = json.loads(stdout)
    assert result["images"] == 100 and result["top1"] > 0.9 and result["fidelity"]["top1_agreement"] >= 0.97


def test_build_bad_input(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    source = str(digits_models["se_resnet_tiny"])
    code, _, stderr = run("build", source, "-o", str(tmp_path / "e"), "--precision", "int8", "--calib", str(tmp_path))
    assert code == 1 and "no images" in stderr
    code, _, stderr = run("build", source, "-o", str(tmp_path / "e.plan"), "--backend", "tensorrt")
    assert code == 1 and "needs TensorRT" in stderr and "se-deploy[tensorrt]" in stderr
    code, _, stderr = run("eval", str(tmp_path / "nothing"), "--data", str(tmp_path))
    assert code == 1 and "does not exist" in stderr
