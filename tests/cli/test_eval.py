"""`se-deploy make-digits`, `build` and `eval` end to end, and eval's refusals and notes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from tests.cli.helpers import run


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


def test_eval_refuses_a_class_layout_that_cannot_match_and_says_what_it_found(
    tmp_path: Path, digits_models: dict[str, Path]
) -> None:
    cats = tmp_path / "one-class" / "cats"
    cats.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((32, 32, 3), 60 * i, np.uint8)).save(cats / f"{i}.png")
    code, _, stderr = run("eval", str(digits_models["se_resnet_tiny"]), "--data", str(tmp_path / "one-class"))
    text = " ".join(stderr.split())
    assert code == 1 and "1 class folder(s)" in text and "cats: 3" in text and "the model has 10 classes" in text
    digit = tmp_path / "digit" / "7"
    digit.mkdir(parents=True)
    for i in range(2):
        Image.fromarray(np.full((32, 32, 3), 90 * i, np.uint8)).save(digit / f"{i}.png")
    code, _, stderr = run("eval", str(digits_models["se_resnet_tiny"]), "--data", str(tmp_path / "digit"))
    assert code == 0 and "labeled by folder name = class index" in " ".join(stderr.split())


def test_eval_finds_the_export_weights_from_another_folder_and_notes_a_changed_or_missing_file(
    tmp_path: Path, tiny_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tiny_weights.parent)
    code, _, stderr = run(
        "export", "--model", "se_resnet_tiny", "--no-twin", "--weights", tiny_weights.name, "-o", "repo"
    )
    assert code == 0, stderr
    onnx_path = tiny_weights.parent / "repo" / "se_resnet_tiny" / "1" / "model.onnx"
    facts = json.loads(next(p.value for p in onnx.load(str(onnx_path)).metadata_props if p.key == "se_deploy"))
    assert facts["weights"]["path"] == str(tiny_weights) and len(facts["weights"]["sha256"]) == 64
    data = tmp_path / "data" / "4"
    data.mkdir(parents=True)
    Image.fromarray(np.full((32, 32, 3), 100, np.uint8)).save(data / "a.png")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, stdout, stderr = run("eval", str(onnx_path), "--data", str(data.parent), "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["fidelity"]["top1_agreement"] == 1.0  # the reference was found and agrees
    tiny_weights.write_bytes(tiny_weights.read_bytes() + b"\0")
    code, stdout, _ = run("eval", str(onnx_path), "--data", str(data.parent), "--json")
    result = json.loads(stdout)
    assert result["fidelity"] is None and any("changed since export" in note for note in result["notes"])
    tiny_weights.unlink()
    code, _, stderr = run("eval", str(onnx_path), "--data", str(data.parent))
    assert code == 0 and "are not found from" in " ".join(stderr.split())
