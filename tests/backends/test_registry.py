"""The backend registry: names, the error for an unknown one, lazy imports, which backend an artifact is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from se_deploy.backends.base import Backend
from se_deploy.backends.registry import backend_for_artifact, backend_names, backends_that, get_backend
from se_deploy.errors import InvalidArgumentError

ROOT = Path(__file__).resolve().parents[2]


def test_every_name_gives_its_backend() -> None:
    assert backend_names() == ("onnxruntime", "tensorrt", "torch", "openvino")
    for name in backend_names():
        backend = get_backend(name)
        assert isinstance(backend, Backend) and backend.name == name
    assert backends_that("build") == ("onnxruntime", "tensorrt", "openvino")  # torch builds no artifact
    assert backends_that("module_runners") == ("torch",)


def test_an_unknown_name_lists_the_choices() -> None:
    with pytest.raises(
        InvalidArgumentError, match="unknown backend 'tvm'; choose one of onnxruntime, tensorrt, torch, openvino"
    ):
        get_backend("tvm")


def test_the_registry_imports_no_runtime_until_one_is_used() -> None:
    """Looking every backend up (the CLI's choice lists do at start-up) imports no runtime, not even numpy."""
    code = (
        "import sys\n"
        "from se_deploy.backends.registry import backend_names, backends_that, get_backend\n"
        "[get_backend(n) for n in backend_names()]; backends_that('build')\n"
        "print(sorted(m for m in ('onnxruntime', 'tensorrt', 'torch', 'openvino', 'onnx', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == "[]"


def _engine_folder(folder: Path, backend: str) -> Path:
    folder.mkdir()
    (folder / "engine.json").write_text(json.dumps({"schema": "se-deploy/engine/1", "backend": backend}))
    return folder


def test_artifacts_are_recognised(tmp_path: Path) -> None:
    assert backend_for_artifact(tmp_path / "m.plan").name == "tensorrt"
    assert backend_for_artifact(tmp_path / "m.engine").name == "tensorrt"
    assert backend_for_artifact(tmp_path / "m.onnx").name == "onnxruntime"
    assert backend_for_artifact(_engine_folder(tmp_path / "ort", "onnxruntime")).name == "onnxruntime"
    ov = _engine_folder(tmp_path / "ov", "openvino")
    assert backend_for_artifact(ov).name == "openvino"
    assert backend_for_artifact(ov / "engine.json").name == "openvino"
    # anything else goes to ONNX Runtime, whose reader says what is wrong with it
    assert backend_for_artifact(tmp_path).name == "onnxruntime"


def test_every_backend_folder_has_the_same_modules() -> None:
    """Polygraphy's habit: a backend that builds artifacts has artifact.py, build.py, runner.py, backend.py."""
    for name in backends_that("build"):
        folder = ROOT / "se_deploy" / "backends" / name
        assert {"artifact.py", "build.py", "runner.py", "backend.py"} <= {p.name for p in folder.iterdir()}, name


def test_a_broken_engine_folder_gets_the_onnx_runtime_reader_error(tmp_path: Path) -> None:
    import se_deploy

    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "engine.json").write_text("{not json")
    assert backend_for_artifact(folder).name == "onnxruntime"
    with pytest.raises(InvalidArgumentError, match="is not valid JSON"):
        se_deploy.load(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgumentError, match=r"has no engine\.json"):
        se_deploy.load(tmp_path / "empty")
