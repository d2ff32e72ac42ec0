from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import se_deploy
from se_deploy.backends.base import BuildRequest
from se_deploy.backends.onnxruntime.build import build_onnxruntime_engine
from se_deploy.errors import InvalidArgumentError
from se_deploy.prepare import Preparation
from tests.backends.tensorrt.sidecars import plan_metadata


@pytest.fixture(scope="module")
def engine_dir(tmp_path_factory, digits_models):  # type: ignore[no-untyped-def]
    target = tmp_path_factory.mktemp("engines") / "fp16"
    build_onnxruntime_engine(BuildRequest(digits_models["se_resnet_tiny"], target, Preparation(precision="fp16")))
    return target


def test_load_onnx_and_engine_folder_and_predict(engine_dir: Path, digits_models, digits_folders) -> None:  # type: ignore[no-untyped-def]
    for source in (digits_models["se_resnet_tiny"], engine_dir, engine_dir / "engine.json"):
        engine = se_deploy.load(source)
        assert engine.input_spec.shape == (None, 3, 32, 32) and engine.input_spec.max_batch == 64
        images = sorted((digits_folders["test"] / "7").iterdir())[:4]
        batch = np.stack([engine.preprocess(Image.open(p)) for p in images])
        assert engine(batch).argmax(1).tolist() == [7, 7, 7, 7]
        assert engine.preprocess(str(images[0])).shape == (3, 32, 32)
    assert engine.description is not None and engine.description.precision == "fp16"


def test_preprocess_takes_arrays_and_refuses_other_things(digits_models) -> None:  # type: ignore[no-untyped-def]
    engine = se_deploy.load(digits_models["se_resnet_tiny"])
    rgb = np.zeros((40, 50, 3), np.uint8)
    assert engine.preprocess(rgb).shape == (3, 32, 32)
    with pytest.raises(InvalidArgumentError, match="uint8 image array"):
        engine.preprocess(np.zeros((40, 50, 3), np.float32))
    with pytest.raises(InvalidArgumentError, match="PIL image"):
        engine.preprocess(123)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (np.zeros((2, 3, 32, 32), np.float64), "dtype float64 does not match"),
        (np.zeros((3, 32, 32), np.float32), "rank-4"),
        (np.zeros((2, 3, 16, 16), np.float32), "dimension 2 must be 32"),
        (np.zeros((65, 3, 32, 32), np.float32), "batch size 65 is outside"),
        (np.zeros((0, 3, 32, 32), np.float32), "batch size 0 is outside"),
        ([[1.0]], "numpy array"),
    ],
)
def test_bad_batches_fail_before_running(digits_models, batch, message: str) -> None:  # type: ignore[no-untyped-def]
    engine = se_deploy.load(digits_models["se_resnet_tiny"])
    with pytest.raises(InvalidArgumentError, match=message):
        engine(batch)


def test_concurrent_calls_give_the_same_answers(digits_models) -> None:  # type: ignore[no-untyped-def]
    engine = se_deploy.load(digits_models["se_resnet_tiny"])
    batches = [np.random.default_rng(i).standard_normal((1 + i % 5, 3, 32, 32)).astype(np.float32) for i in range(24)]
    serial = [engine(b) for b in batches]
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = list(pool.map(engine, batches))
    for want, got in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(want, got)


def test_plans_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        se_deploy.load(tmp_path / "missing.onnx")
    plan = tmp_path / "m.plan"
    plan.write_bytes(b"x")
    with pytest.raises(InvalidArgumentError, match="has no sidecar"):
        se_deploy.load(plan)
    from se_deploy.backends.tensorrt.artifact import PlanMetadata

    plan_metadata(input_shape=[3, 32, 32]).write(plan)
    with pytest.raises(InvalidArgumentError, match="has no preprocessing"):  # never a guessed ImageNet default
        se_deploy.load(plan)
    PlanMetadata.read(plan).__class__(
        **(
            vars(PlanMetadata.read(plan))
            | {"preprocessing": {"resize_size": 36, "crop_size": 32, "mean": [0, 0, 0], "std": [1, 1, 1]}}
        )
    ).write(plan)
    try:
        import tensorrt  # noqa: F401
    except Exception:
        with pytest.raises(InvalidArgumentError, match=r"se-deploy\[tensorrt\]"):
            se_deploy.load(plan)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_inputs_are_refused_unless_allowed(digits_models, bad: float) -> None:  # type: ignore[no-untyped-def]
    batch = np.zeros((2, 3, 32, 32), np.float32)
    batch[1, 2, 3, 4] = bad
    engine = se_deploy.load(digits_models["se_resnet_tiny"])
    with pytest.raises(InvalidArgumentError, match=r"first at index \(1, 2, 3, 4\).*allow_nonfinite=True"):
        engine(batch)
    assert engine(batch, allow_nonfinite=True).shape == (2, 10)  # per call
    permissive = se_deploy.load(digits_models["se_resnet_tiny"], allow_nonfinite=True)
    assert permissive(batch).shape == (2, 10)  # per engine
    with pytest.raises(InvalidArgumentError, match="NaN"):
        permissive(batch, allow_nonfinite=False)
