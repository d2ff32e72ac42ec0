"""Real exports from other toolchains (tests/fixtures/foreign, made by the make_*.py scripts beside them
with the versions in each manifest): inspect finds every SE module the script wrote, fuse verifies,
fuse --strip leaves none."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner

from se_deploy.cli import main
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.normalize import normalize
from tests.fixtures.foreign import manifest

ENTRIES = {str(entry["file"]): entry for entry in manifest.read_all()}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.output


def shape_args(entry: dict[str, object]) -> list[str]:
    """--input-shape where the export left a spatial dim free (the refusal is tested below)."""
    shape = [int(d) for d in entry["input_shape"]]  # type: ignore[attr-defined]
    if all(d > 0 for d in shape[1:]):
        return []
    dims = [1] + [d if d > 0 else 64 for d in shape[1:]]
    return ["--input-shape", "x:" + "x".join(map(str, dims))]


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_inspect_fuse_and_strip(name: str, tmp_path: Path) -> None:
    entry = ENTRIES[name]
    path = str(manifest.HERE / name)
    code, stdout, output = run("inspect", path, "--json")
    assert code == 0, output
    report = json.loads(stdout)
    assert len(report["se_blocks"]) == entry["se_blocks"] and report["near_misses"] == [], report["near_misses"]

    code, stdout, output = run("fuse", path, "-o", str(tmp_path / "fused.onnx"), "--json", *shape_args(entry))
    assert code == 0, output
    outcome = json.loads(stdout)
    verification = outcome["verification"]
    assert verification["passed"] and outcome["remaining_se_blocks"] == 0
    assert verification["tensors_compared"] > 5  # intermediates too, not only the one output
    fused = onnx.load(str(tmp_path / "fused.onnx"))
    onnx.checker.check_model(fused)  # sorted, whatever order the input had
    assert sum(outcome["fused_ops"].values()) == entry["se_blocks"]

    code, _, output = run("fuse", path, "--strip", "-o", str(tmp_path / "stripped.onnx"), *shape_args(entry))
    assert code == 0, output
    stripped = onnx.load(str(tmp_path / "stripped.onnx"))
    onnx.checker.check_model(stripped)
    assert find_se_blocks(normalize(stripped).model).blocks == ()


def test_free_spatial_dims_are_refused_naming_the_dim(tmp_path: Path) -> None:
    path = str(manifest.HERE / "torch_legacy_senet_opset13_dynamic_hw.onnx")
    code, _, output = run("fuse", path, "-o", str(tmp_path / "f.onnx"))
    assert code == 1 and "input 'x' dim 2 ('height')" in output and "--input-shape x:1x3xHxW" in output
    assert not (tmp_path / "f.onnx").exists()


def test_onnxruntime_fp16_fixture_is_unsorted_as_the_converter_wrote_it() -> None:
    model = onnx.load(str(manifest.HERE / "torch_legacy_senet_opset13_fp16_onnxruntime.onnx"))
    with pytest.raises(onnx.checker.ValidationError, match="topologically sorted"):
        onnx.checker.check_model(model)
