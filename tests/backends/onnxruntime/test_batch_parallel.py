"""Batch-parallel execution: the build's plan, the slicing, and an INT8 SE engine run through ONNX Runtime."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from se_deploy.backends.base import BuildRequest
from se_deploy.backends.engine_folder import EngineDescription
from se_deploy.backends.onnxruntime.batch_parallel import (
    MIN_GAIN,
    MIN_WHOLE_MS,
    BatchParallelSession,
    available_cores,
    plan_for,
    slice_bounds,
)
from se_deploy.backends.onnxruntime.build import OnnxRuntimeOptions, build_onnxruntime_engine
from se_deploy.backends.onnxruntime.runner import OnnxRuntimeRunner
from se_deploy.cli import main
from se_deploy.data.images import load_image, scan_image_folder
from se_deploy.errors import InvalidArgumentError
from se_deploy.serve.package import package
from tests.backends.onnxruntime.int8_engines import build_int8


def test_auto_plan_is_for_fused_int8_cpu_engines_with_se_blocks() -> None:
    assert plan_for("auto", precision="int8", device="cpu", fused=True, se_blocks=4).enabled
    off = [
        plan_for("auto", precision="fp32", device="cpu", fused=True, se_blocks=4),
        plan_for("auto", precision="int8", device="cpu", fused=False, se_blocks=0),  # --no-fuse: stock ORT
        plan_for("auto", precision="int8", device="cpu", fused=True, se_blocks=0),  # a model without SE
        plan_for("auto", precision="int8", device="cuda", fused=True, se_blocks=4),
        plan_for("off", precision="int8", device="cpu", fused=True, se_blocks=4),
    ]
    assert [plan.enabled for plan in off] == [False] * 5
    assert "fp32" in off[0].reason and "no fused SE block" in off[1].reason and "cuda" in off[3].reason
    assert plan_for("on", precision="fp32", device="cpu", fused=False, se_blocks=0).enabled


def test_a_fixed_batch_is_not_split() -> None:
    plan = plan_for("auto", precision="int8", device="cpu", fused=True, se_blocks=4, dynamic_batch=False)
    assert not plan.enabled and "fixed batch" in plan.reason
    with pytest.raises(InvalidArgumentError, match="fixed batch size"):
        plan_for("on", precision="int8", device="cpu", fused=True, se_blocks=4, dynamic_batch=False)


def test_bad_modes_are_clear_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="one of auto, on, off"):
        plan_for("always", precision="int8", device="cpu", fused=True, se_blocks=1)
    with pytest.raises(InvalidArgumentError, match="--device cpu"):
        plan_for("on", precision="int8", device="cuda", fused=True, se_blocks=1)


@pytest.mark.parametrize(
    ("batch", "parts", "expected"),
    [
        (8, 2, [(0, 4), (4, 8)]),
        (5, 2, [(0, 3), (3, 5)]),
        (3, 8, [(0, 1), (1, 2), (2, 3)]),
        (7, 3, [(0, 3), (3, 5), (5, 7)]),
        (1, 4, [(0, 1)]),
    ],
)
def test_slices_cover_the_batch_in_order(batch: int, parts: int, expected: list[tuple[int, int]]) -> None:
    assert slice_bounds(batch, parts) == expected


class _RecordingSession:
    """Stands in for an ORT session to check the wrapper's own logic: which session ran what, on which thread."""

    def __init__(self, threads: int, calls: list[tuple[int, int, str]]) -> None:
        self.threads, self.calls = threads, calls

    def run(self, output_names: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        (batch,) = feeds.values()
        self.calls.append((self.threads, len(batch), threading.current_thread().name))
        return [batch * 2.0]


def test_slices_run_on_the_pool_in_order_and_batch_one_on_the_threaded_session() -> None:
    calls: list[tuple[int, int, str]] = []
    opened: list[int] = []

    def open_session(threads: int) -> _RecordingSession:
        opened.append(threads)
        return _RecordingSession(threads, calls)

    session = BatchParallelSession(open_session, threads=2)
    assert opened == [1]  # the whole-batch session opens on first use only
    batch = np.arange(5, dtype=np.float32).reshape(5, 1)
    (out,) = session.run(None, {"x": batch})
    np.testing.assert_array_equal(out, batch * 2.0)
    assert sorted((t, n) for t, n, _ in calls) == [(1, 2), (1, 3)]
    assert all(name.startswith("se-deploy-slice") for _, _, name in calls)
    assert session.sliced_runs == 1
    calls.clear()
    session.run(None, {"x": batch[:1]})
    assert opened == [1, 2] and [(t, n) for t, n, _ in calls] == [(2, 1)] and session.sliced_runs == 1
    session.close()
    with pytest.raises(ValueError, match="at least 2 threads"):
        BatchParallelSession(open_session, threads=1)


@pytest.fixture(scope="module")
def int8_engine(
    tmp_path_factory: pytest.TempPathFactory, digits_models: dict[str, Path], digits_folders: dict[str, Path]
) -> Path:
    """The portable INT8 graph (no SE-native fold): the slices run the very graph the whole batch does."""
    output = tmp_path_factory.mktemp("int8") / "engine"
    # on: auto would time it and keep whole batches for this tiny model (below)
    options = OnnxRuntimeOptions(native=False, batch_parallel="on")
    build_int8(digits_models["se_resnet_tiny"], output, digits_folders["train"], samples=16, options=options)
    return output


def test_int8_se_engine_runs_batches_as_slices_with_the_same_results(
    int8_engine: Path, digits_folders: dict[str, Path]
) -> None:
    plan = EngineDescription.read(int8_engine).batch_parallel
    assert plan == {"enabled": True, "reason": "asked for (--batch-parallel on)", "timing": None}
    sliced = OnnxRuntimeRunner(int8_engine, threads=2)
    whole = OnnxRuntimeRunner(int8_engine / "model.onnx", threads=2)  # the same graph, no plan: batches whole
    assert isinstance(sliced.session, BatchParallelSession) and not isinstance(whole.session, BatchParallelSession)
    images = scan_image_folder(digits_folders["test"]).images[::40][:7]
    digits = np.stack([load_image(image.path, sliced.preprocessing) for image in images])
    expected = whole.infer(digits)
    assert len(set(expected.argmax(axis=1))) >= 3  # real digits exercise the model: not one class for all
    np.testing.assert_allclose(sliced.infer(digits), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sliced.infer(digits[:1]), expected[:1], rtol=1e-5, atol=1e-5)
    assert sliced.session.sliced_runs == 1  # the batch of 7 ran as slices, the batch of 1 whole
    sliced.close()
    one_thread = OnnxRuntimeRunner(int8_engine, threads=1)  # nothing to split across
    assert not isinstance(one_thread.session, BatchParallelSession)


def test_off_and_fp32_engines_run_batches_whole(
    tmp_path: Path, digits_models: dict[str, Path], digits_folders: dict[str, Path]
) -> None:
    off = OnnxRuntimeOptions(batch_parallel="off")
    result = build_int8(
        digits_models["se_resnet_tiny"], tmp_path / "off", digits_folders["train"], samples=16, options=off
    )
    assert result.description.batch_parallel == {
        "enabled": False,
        "reason": "turned off (--batch-parallel off)",
        "timing": None,
    }
    assert not isinstance(OnnxRuntimeRunner(tmp_path / "off", threads=2).session, BatchParallelSession)
    fp32 = build_onnxruntime_engine(BuildRequest(digits_models["se_resnet_tiny"], tmp_path / "fp32"))
    assert fp32.description.batch_parallel is not None and not fp32.description.batch_parallel["enabled"]


def test_package_says_triton_runs_whole_batches(int8_engine: Path, tmp_path: Path) -> None:
    (packaged,) = package([int8_engine], tmp_path / "repo", names=["tiny"])
    assert packaged.config.startswith("# batch-parallel engine")


def test_cli_times_the_auto_plan_and_follows_the_timing(
    tmp_path: Path, digits_models: dict[str, Path], digits_folders: dict[str, Path]
) -> None:
    """auto times both plans at build and keeps slicing only where it was faster, and never for batches too
    fast to time apart (the test checks the decision follows the timing, not which plan wins here)."""
    source, calib = str(digits_models["se_resnet_tiny"]), str(digits_folders["train"])
    args = ["build", source, "--precision", "int8", "--calib", calib, "--calib-samples", "8"]
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "auto")])
    assert result.exit_code == 0, result.output
    plan = EngineDescription.read(tmp_path / "auto").batch_parallel
    assert plan is not None
    if available_cores() < 2:  # nothing to split across: not timed
        return
    timing = plan["timing"]
    assert timing["sliced_ms"] > 0 and timing["whole_ms"] > 0
    faster = timing["sliced_ms"] <= timing["whole_ms"] * (1 - MIN_GAIN)
    assert plan["enabled"] == (timing["whole_ms"] >= MIN_WHOLE_MS and faster)
    if timing["whole_ms"] < MIN_WHOLE_MS:  # this 32x32 model: ~0.4 ms a batch here, a stable "whole"
        assert "too fast to split" in plan["reason"]
    assert timing["cores"] == available_cores() and timing["batch"] == 2 * available_cores()
    assert f"sliced {timing['sliced_ms']:.1f} ms" in " ".join(result.stderr.split())
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "on"), "--batch-parallel", "on"])
    assert result.exit_code == 0 and EngineDescription.read(tmp_path / "on").batch_parallel["enabled"]  # type: ignore[index]
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "bad"), "--batch-parallel", "sometimes"])
    assert result.exit_code == 2 and "--batch-parallel" in result.stderr
    gpu = ["build", source, "-o", str(tmp_path / "gpu"), "--device", "cuda", "--batch-parallel", "on"]
    result = CliRunner().invoke(main, gpu)
    assert result.exit_code != 0 and "--device cpu" in " ".join(result.output.split())
