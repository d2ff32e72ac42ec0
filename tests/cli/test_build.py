"""`se-deploy build`: refusals before any work, and --force (never removes what se-deploy did not write)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.cli.helpers import one_line_refusal, run, snapshot


def test_build_bad_input(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    source = str(digits_models["se_resnet_tiny"])
    code, _, stderr = run("build", source, "-o", str(tmp_path / "e"), "--precision", "int8", "--calib", str(tmp_path))
    assert code == 1 and "no images" in stderr
    code, _, stderr = run("build", source, "-o", str(tmp_path / "e.plan"), "--backend", "tensorrt")
    assert code == 1 and "needs TensorRT" in stderr and "se-deploy[tensorrt]" in stderr
    code, _, stderr = run("eval", str(tmp_path / "nothing"), "--data", str(tmp_path))
    assert code == 1 and "does not exist" in stderr


@pytest.mark.parametrize(
    ("model", "message"),
    [("rank2", "not an image batch (N, 3, H, W)"), ("two_inputs", "has 2 inputs (X, R)")],
)
def test_int8_calibration_of_a_non_image_model_is_refused_before_calibrating(
    tmp_path: Path, files: dict[str, Path], model: str, message: str
) -> None:
    out = tmp_path / "engine"
    code, _, stderr = run(
        "build", str(files[model]), "-o", str(out), "--precision", "int8", "--calib", str(files["calib"])
    )
    assert code == 1 and message in " ".join(stderr.split())
    assert not out.exists()


def test_calib_without_int8_is_noted_not_silently_ignored(tmp_path: Path, files: dict[str, Path]) -> None:
    code, _, stderr = run("build", str(files["image"]), "-o", str(tmp_path / "e"), "--calib", str(files["calib"]))
    assert code == 0 and "--calib is used only by --precision int8" in " ".join(stderr.split())


def test_build_force_never_deletes_the_folder_holding_its_input(tmp_path: Path, image_onnx: Path) -> None:
    # The reproduction: mkdir -p s/sub && cp model.onnx s/m.onnx && se-deploy build s/m.onnx -o s --force
    s = tmp_path / "s"
    (s / "sub").mkdir(parents=True)
    (s / "m.onnx").write_bytes(image_onnx.read_bytes())
    before = snapshot(s)
    code, _, stderr = run("build", str(s / "m.onnx"), "-o", str(s), "--force")
    one_line_refusal(code, stderr, "holds the input")
    assert snapshot(s) == before and (s / "sub").is_dir()


def test_build_force_refuses_what_se_deploy_did_not_write(
    tmp_path: Path, image_onnx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = tmp_path / "results"
    foreign.mkdir()
    (foreign / "paper.tex").write_text("keep")
    plain = tmp_path / "notes.txt"
    plain.write_text("keep")
    for target, message in ((foreign, "was not written by se-deploy"), (plain, "is a file")):
        code, _, stderr = run("build", str(image_onnx), "-o", str(target), "--force")
        one_line_refusal(code, stderr, message)
    assert (foreign / "paper.tex").read_text() == "keep" and plain.read_text() == "keep"
    monkeypatch.chdir(foreign)
    code, _, stderr = run("build", str(image_onnx), "-o", ".", "--force")
    one_line_refusal(code, stderr, "'.' is the current folder")
    code, _, stderr = run("build", str(image_onnx), "-o", "..", "--force")
    one_line_refusal(code, stderr, "holds the current folder")
    monkeypatch.setenv("HOME", str(foreign))
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run("build", str(image_onnx), "-o", str(foreign), "--force")
    one_line_refusal(code, stderr, "home folder")
    assert (foreign / "paper.tex").read_text() == "keep"


def test_build_force_replaces_its_own_engine_readable_by_others(tmp_path: Path, image_onnx: Path) -> None:
    engine = tmp_path / "deep" / "engine"
    previous = os.umask(0o022)
    try:
        assert run("build", str(image_onnx), "-o", str(engine))[0] == 0
        code, _, stderr = run("build", str(image_onnx), "-o", str(engine))
        one_line_refusal(code, stderr, "already exists; pass --force")
        assert run("build", str(image_onnx), "-o", str(engine), "--force", "--no-fuse")[0] == 0
    finally:
        os.umask(previous)
    assert json.loads((engine / "engine.json").read_text())["fused"] is False
    assert sorted(p.name for p in engine.parent.iterdir()) == ["engine"]  # no staging left
    for path in (engine, engine / "engine.json", engine / "model.onnx"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o755 if path.is_dir() else 0o644), path
    (engine / "extra.bin").write_bytes(b"user data")
    code, _, stderr = run("build", str(image_onnx), "-o", str(engine), "--force")
    one_line_refusal(code, stderr, "holds extra.bin, which se-deploy did not write")


def test_failed_build_leaves_no_empty_output_folder(tmp_path: Path, image_onnx: Path) -> None:
    empty_calib = tmp_path / "calib"
    empty_calib.mkdir()
    target = tmp_path / "new" / "deeper" / "engine"
    code, _, stderr = run(
        "build", str(image_onnx), "-o", str(target), "--precision", "int8", "--calib", str(empty_calib)
    )
    one_line_refusal(code, stderr, "no images")
    assert not (tmp_path / "new").exists()
