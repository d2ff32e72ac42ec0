"""A plan behind ``se_deploy.load``: the sidecar decides the input checks and the preprocessing.

The runner below records what reaches it; it stands in for TensorRT's execution only so that the
checks in front of it can be tested (TensorRT cannot run here). Nothing here claims TensorRT ran.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from se_deploy.backends.tensorrt.artifact import BatchRange, PlanMetadata
from se_deploy.backends.tensorrt.runner import TensorRTRunner
from se_deploy.errors import InvalidArgumentError
from se_deploy.preprocessing import Preprocessing
from tests.backends.tensorrt.sidecars import plan_metadata

BGR_255 = Preprocessing(
    36, 32, mean=(104.0, 117.0, 123.0), std=(1.0, 1.0, 1.0), color_space="BGR", pixel_range=(0.0, 255.0)
)


class RecordingRunner:
    def __init__(self) -> None:
        self.seen: list[tuple[int, ...]] = []

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self.seen.append(batch.shape)
        return np.zeros((batch.shape[0], 10), np.float32)


def _meta(preprocessing: Preprocessing | None = BGR_255) -> PlanMetadata:
    return plan_metadata(
        precision="fp16",
        batch=BatchRange(1, 4, 8),
        input_shape=[3, 32, 32],
        created="now",
        preprocessing=preprocessing.to_dict() if preprocessing else None,
        num_classes=10,
    )


def test_batches_are_checked_before_they_reach_tensorrt(tmp_path: Path) -> None:
    runner = RecordingRunner()
    engine = TensorRTRunner(tmp_path / "m.plan", _meta(), executor=runner)
    ok = np.zeros((2, 3, 32, 32), np.float32)
    assert engine(ok).shape == (2, 10)
    bad = {
        "dtype": ok.astype(np.float64),
        "rank": ok[0],
        "dimension 2": np.zeros((2, 3, 16, 32), np.float32),
        "outside the engine's range": np.zeros((9, 3, 32, 32), np.float32),
        "numpy array": ok.tolist(),
    }
    for message, batch in bad.items():
        with pytest.raises(InvalidArgumentError, match=message):
            engine(batch)  # type: ignore[arg-type]
    assert runner.seen == [(2, 3, 32, 32)]


def test_preprocessing_comes_from_the_sidecar(tmp_path: Path) -> None:
    engine = TensorRTRunner(tmp_path / "m.plan", _meta(), executor=RecordingRunner())
    assert engine.preprocessing == BGR_255
    image = np.full((40, 40, 3), 200, np.uint8)
    sample = engine.preprocess(image)
    assert sample.shape == (3, 32, 32) and sample.dtype == np.float32
    assert np.allclose(sample[0], 200 - 104.0)  # BGR, 0-255: not ImageNet's (200/255 - 0.485) / 0.229
    with pytest.raises(InvalidArgumentError, match="has no preprocessing"):
        TensorRTRunner(tmp_path / "m.plan", _meta(None), executor=RecordingRunner())
