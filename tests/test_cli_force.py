"""`--force` through every command that writes: it replaces se-deploy's own artifacts and nothing else."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import onnx
import pytest
import torch
from click.testing import CliRunner

from se_deploy.cli import main
from tests.rewrite.graphs import SEGraph


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def one_line_refusal(code: int, stderr: str, message: str) -> None:
    assert code == 1, stderr
    assert message in " ".join(stderr.split()), stderr
    assert "Traceback" not in stderr


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def image_onnx(tmp_path: Path) -> Path:
    """A tiny image model (N, 3, 8, 8) with one SE block: fast to build, bench and package."""
    path = tmp_path / "model.onnx"
    onnx.save(SEGraph(channels=3, reduced=1, spatial=8).build(), str(path))
    return path


# --- build -------------------------------------------------------------------------------------


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


# --- fuse --------------------------------------------------------------------------------------


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


# --- export ------------------------------------------------------------------------------------


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


# --- package -----------------------------------------------------------------------------------


def test_package_force_replaces_only_its_own_entries(tmp_path: Path, image_onnx: Path) -> None:
    repo = tmp_path / "repo"
    previous = os.umask(0o022)
    try:
        assert run("package", str(image_onnx), "-o", str(repo), "--name", "m")[0] == 0
    finally:
        os.umask(previous)
    for path in (
        repo / "m",
        repo / "m" / "config.pbtxt",
        repo / "m" / "se_deploy.json",
        repo / "m" / "1" / "model.onnx",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == (0o755 if path.is_dir() else 0o644), (
            path
        )  # Triton runs as another user
    marker = json.loads((repo / "m" / "se_deploy.json").read_text())
    assert marker["schema"] == "se-deploy/packaged-model/1" and len(marker["source_sha256"]) == 64
    assert run("package", str(image_onnx), "--output", str(repo), "--name", "m", "--force")[0] == 0
    # re-packaging a model out of the entry being replaced would delete the input
    code, _, stderr = run("package", str(repo / "m" / "1" / "model.onnx"), "-o", str(repo), "--name", "m", "--force")
    one_line_refusal(code, stderr, "holds the input")
    foreign = repo / "other"
    foreign.mkdir()
    (foreign / "config.pbtxt").write_text('name: "other"')
    code, _, stderr = run("package", str(image_onnx), "-o", str(repo), "--name", "other", "--force")
    one_line_refusal(code, stderr, "was not written by se-deploy")
    assert (foreign / "config.pbtxt").read_text() == 'name: "other"'


# --- bench -------------------------------------------------------------------------------------

QUICK = ("--batch", "1", "--rounds", "2", "--iterations", "1", "--warmup", "0")


def test_bench_refuses_a_foreign_report_folder_before_measuring(
    tmp_path: Path, image_onnx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "report.md").write_text("my report")
    code, _, stderr = run("bench", "--model", str(image_onnx), *QUICK, "-o", str(foreign), "--force")
    one_line_refusal(code, stderr, "was not written by se-deploy")
    assert (foreign / "report.md").read_text() == "my report"
    monkeypatch.chdir(foreign)
    code, _, stderr = run("bench", "--model", str(image_onnx), *QUICK, "--out", ".", "--force")
    one_line_refusal(code, stderr, "is the current folder")


def test_bench_json_flag_output_option_and_force(tmp_path: Path, image_onnx: Path) -> None:
    report_dir = tmp_path / "report"
    code, stdout, stderr = run("bench", "--model", str(image_onnx), *QUICK, "--out", str(report_dir), "--json")
    assert code == 0, stderr
    assert "--out is deprecated" in stderr
    assert json.loads(stdout)["schema"] == "se-deploy/bench/1"  # --json alone: the report on stdout
    assert json.loads((report_dir / "report.json").read_text())["schema"] == "se-deploy/bench/1"
    code, _, stderr = run("bench", "--model", str(image_onnx), *QUICK, "-o", str(report_dir))
    one_line_refusal(code, stderr, "already exists; pass --force")
    copy = tmp_path / "copy.json"
    code, _, stderr = run(
        "bench", "--model", str(image_onnx), *QUICK, "-o", str(report_dir), "--force", "--json", str(copy)
    )
    assert code == 0, stderr
    assert "--json PATH is deprecated" in stderr and json.loads(copy.read_text())["schema"] == "se-deploy/bench/1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.json", "model.onnx", "report"]  # no staging left
