"""What --force may replace: se-deploy's own artifacts, never the input, a folder holding it, ., ~ or /."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from se_deploy import model_metadata
from se_deploy.errors import OutputError
from se_deploy.output_guard import (
    BENCH_JSON_FILE,
    BENCH_REPORT,
    ENGINE_DIR,
    ONNX_FILE,
    PLAN_FILE,
    REPOSITORY_ENTRY,
    check_output,
)
from tests.rewrite.graphs import SEGraph


def _engine(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "engine.json").write_text(json.dumps({"schema": "se-deploy/engine/1"}))
    (folder / "model.onnx").write_bytes(b"x")
    return folder


def test_a_new_target_needs_nothing(tmp_path: Path) -> None:
    check_output(tmp_path / "new", ENGINE_DIR, force=False)


def test_an_existing_artifact_needs_force(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e")
    with pytest.raises(OutputError, match="already exists; pass --force"):
        check_output(engine, ENGINE_DIR, force=False)
    check_output(engine, ENGINE_DIR, force=True)


def test_an_empty_folder_is_taken_without_force(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    check_output(tmp_path / "empty", ENGINE_DIR, force=False)


@pytest.mark.parametrize("force", [False, True])
def test_current_folder_and_its_parents_are_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, force: bool
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(OutputError, match="is the current folder"):
        check_output(Path("."), ENGINE_DIR, force=force)
    with pytest.raises(OutputError, match="holds the current folder"):
        check_output(Path(".."), ENGINE_DIR, force=force)


def test_home_and_root_are_never_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(OutputError, match="home folder"):
        check_output(home, ENGINE_DIR, force=True)
    with pytest.raises(OutputError, match="holds the current folder"):
        check_output(Path("/"), ENGINE_DIR, force=True)


def test_the_input_and_folders_holding_it_are_never_replaced(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e")
    source = engine / "model.onnx"
    with pytest.raises(OutputError, match="holds the input"):
        check_output(engine, ENGINE_DIR, force=True, inputs=[source])
    with pytest.raises(OutputError, match="is the input"):
        check_output(source, ONNX_FILE, force=True, inputs=[source])
    with pytest.raises(OutputError, match="holds the input"):
        check_output(tmp_path, ENGINE_DIR, force=True, inputs=[source])


def test_links_are_not_replaced(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e")
    (tmp_path / "link").symlink_to(engine)
    with pytest.raises(OutputError, match="symbolic link"):
        check_output(tmp_path / "link", ENGINE_DIR, force=True)


def test_foreign_folders_and_files_are_refused_even_with_force(tmp_path: Path) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"jpg")
    with pytest.raises(OutputError, match="was not written by se-deploy"):
        check_output(foreign, ENGINE_DIR, force=True)
    plain = tmp_path / "thesis.txt"
    plain.write_text("years of work")
    with pytest.raises(OutputError, match="is a file, but this command writes an engine folder"):
        check_output(plain, ENGINE_DIR, force=True)
    with pytest.raises(OutputError, match="was not written by se-deploy"):
        check_output(plain, ONNX_FILE, force=True)
    with pytest.raises(OutputError, match="is a folder"):
        check_output(foreign, ONNX_FILE, force=True)


def test_an_artifact_holding_foreign_files_is_refused(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e")
    (engine / "my-notes.md").write_text("keep me")
    with pytest.raises(OutputError, match=r"holds my-notes\.md, which se-deploy did not write"):
        check_output(engine, ENGINE_DIR, force=True)


def test_an_se_native_engine_is_replaced_but_not_foreign_files_beside_its_graphs(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "e")
    (engine / "native").mkdir()
    for name in ("batch1.onnx", "batch8.onnx", "weights.bin"):
        (engine / "native" / name).write_bytes(b"x")
    check_output(engine, ENGINE_DIR, force=True)  # what se-deploy writes into an SE-native engine
    (engine / "native" / "tuning.csv").write_text("mine")
    with pytest.raises(OutputError, match=r"holds native/tuning\.csv, which se-deploy did not write"):
        check_output(engine, ENGINE_DIR, force=True)


def test_each_kind_recognises_its_own_marker(tmp_path: Path) -> None:
    entry = tmp_path / "repo" / "m"
    (entry / "1").mkdir(parents=True)
    (entry / "1" / "model.onnx").write_bytes(b"x")
    (entry / "config.pbtxt").write_text('name: "m"')
    for schema in ("se-deploy/model-metadata/1", "se-deploy/packaged-model/1"):
        (entry / "se_deploy.json").write_text(json.dumps({"schema": schema}))
        check_output(entry, REPOSITORY_ENTRY, force=True)
    (entry / "se_deploy.json").write_text(json.dumps({"schema": "something else"}))
    with pytest.raises(OutputError, match=r"no se_deploy\.json"):
        check_output(entry, REPOSITORY_ENTRY, force=True)

    report = tmp_path / "report"
    report.mkdir()
    (report / "report.json").write_text(json.dumps({"schema": "se-deploy/bench/1"}))
    (report / "latency.png").write_bytes(b"png")
    check_output(report, BENCH_REPORT, force=True)
    check_output(report / "report.json", BENCH_JSON_FILE, force=True)
    with pytest.raises(OutputError, match="was not written by se-deploy"):
        check_output(entry / "config.pbtxt", BENCH_JSON_FILE, force=True)

    plan = tmp_path / "model.plan"
    plan.write_bytes(b"plan")
    with pytest.raises(OutputError, match="sidecar"):
        check_output(plan, PLAN_FILE, force=True)
    (tmp_path / "model.plan.json").write_text(json.dumps({"schema": "se-deploy/tensorrt-plan/1"}))
    check_output(plan, PLAN_FILE, force=True)

    ours, theirs = tmp_path / "ours.onnx", tmp_path / "theirs.onnx"
    model = SEGraph().build()
    onnx.save(model, str(theirs))
    model_metadata.embed(model, {"written_by": "se-deploy fuse"})
    onnx.save(model, str(ours))
    check_output(ours, ONNX_FILE, force=True)
    with pytest.raises(OutputError, match="no se-deploy metadata"):
        check_output(theirs, ONNX_FILE, force=True)
