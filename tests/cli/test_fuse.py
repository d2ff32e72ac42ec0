"""`se-deploy fuse`: a verified fused (or stripped) model, its refusals, and --force."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

from tests.cli.helpers import one_line_refusal, run
from tests.rewrite.graphs import SEGraph


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


def test_fuse_force_refuses_folders_foreign_files_and_its_input(tmp_path: Path, image_onnx: Path) -> None:
    folder = tmp_path / "existing"
    folder.mkdir()
    (folder / "a.txt").write_text("keep")
    foreign = tmp_path / "theirs.onnx"
    onnx.save(SEGraph(channels=3, reduced=1, spatial=8, seed=5).build(), str(foreign))
    before = foreign.read_bytes()
    cases = [
        (folder, "is a folder"),
        (foreign, "was not written by se-deploy"),
        (image_onnx, "is the input"),
    ]
    for target, message in cases:
        code, _, stderr = run("fuse", str(image_onnx), "-o", str(target), "--force")
        one_line_refusal(code, stderr, message)
    assert foreign.read_bytes() == before and (folder / "a.txt").read_text() == "keep"
    ours = tmp_path / "fused.onnx"
    assert run("fuse", str(image_onnx), "-o", str(ours))[0] == 0
    assert run("fuse", str(image_onnx), "-o", str(ours), "--force", "--strip")[0] == 0  # its own output: replaced
