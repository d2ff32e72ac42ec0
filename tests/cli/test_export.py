"""`se-deploy export`: the repository it writes, its refusals, and --force."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from tests.cli.helpers import one_line_refusal, run


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
    weights = json.loads((tmp_path / "se_resnet_tiny" / "se_deploy.json").read_text())["weights"]
    assert (
        weights["source"] == "random"
        and "fitted on 4 seeded images, half white noise, half image-like" in weights["batch_norm_statistics"]
    )
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


def test_text_file_renamed_pth_is_one_line(tmp_path: Path, files: dict[str, Path]) -> None:
    code, _, stderr = run(
        "export", "--model", "se_resnet_tiny", "--weights", str(files["text"]), "-o", str(tmp_path / "o")
    )
    assert code == 1 and "not a valid PyTorch checkpoint" in stderr and len(stderr.strip().splitlines()) <= 2
    assert not (tmp_path / "o").exists()  # no empty output folder either


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


def test_export_force_refuses_foreign_entries_and_the_weights_folder(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    entry = repo / "resnet_tiny_basic"
    entry.mkdir(parents=True)
    (entry / "README").write_text("someone else's model")
    code, _, stderr = run("export", "--model", "resnet_tiny_basic", "--no-twin", "-o", str(repo), "--force")
    one_line_refusal(code, stderr, "was not written by se-deploy")
    assert (entry / "README").read_text() == "someone else's model"

    holder = repo / "se_resnet_tiny"
    holder.mkdir()
    torch.manual_seed(0)
    from se_deploy.models import create_model

    torch.save(create_model("se_resnet_tiny").state_dict(), holder / "w.pth")
    code, _, stderr = run(
        "export", "--model", "se_resnet_tiny", "--weights", str(holder / "w.pth"), "-o", str(repo), "--force"
    )
    one_line_refusal(code, stderr, "holds the input")
    assert (holder / "w.pth").exists()
