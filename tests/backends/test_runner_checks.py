"""Every runner checks its inputs once, in the shared Runner code, before the backend's ``_run`` sees them.

Each backend runner that can be built here is a real one (ONNX Runtime, OpenVINO where installed, the
PyTorch CPU and CUDA-path runners on the CPU); the TensorRT runner gets a stand-in executor, since
TensorRT cannot run here: what is tested is the check in front of it, nothing of TensorRT.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from se_deploy.backends.base import Runner
from se_deploy.backends.onnxruntime.runner import OnnxRuntimeRunner
from se_deploy.backends.tensorrt.artifact import BatchRange
from se_deploy.backends.tensorrt.runner import TensorRTRunner
from se_deploy.backends.torch.runner import TorchCpuRunner, TorchCudaRunner
from se_deploy.errors import InvalidArgumentError
from se_deploy.models import create_model
from se_deploy.preprocessing import Preprocessing
from tests.backends.tensorrt.sidecars import plan_metadata


class _Zeros:
    def infer(self, batch: np.ndarray) -> np.ndarray:
        return np.zeros((batch.shape[0], 10), np.float32)


def _tensorrt(_models: dict[str, Path], tmp_path: Path) -> Runner:
    meta = plan_metadata(
        precision="fp32",
        batch=BatchRange(1, 4, 8),
        input_shape=[3, 32, 32],
        preprocessing=Preprocessing(36, 32).to_dict(),
        num_classes=10,
    )
    return TensorRTRunner(tmp_path / "m.plan", meta, executor=_Zeros())


def _openvino(models: dict[str, Path], tmp_path: Path) -> Runner:
    pytest.importorskip("openvino", reason="the OpenVINO runner needs `pip install openvino` (test extra)")
    from se_deploy.backends.openvino.runner import OpenVINORunner

    return OpenVINORunner(models["se_resnet_tiny"], threads=1, work=tmp_path)


RUNNERS: dict[str, Callable[[dict[str, Path], Path], Runner]] = {
    "onnxruntime": lambda models, _tmp: OnnxRuntimeRunner(models["se_resnet_tiny"]),
    "openvino": _openvino,
    "tensorrt": _tensorrt,
    "torch-cpu": lambda _m, _t: TorchCpuRunner(create_model("se_resnet_tiny")),
    "torch-cuda-path": lambda _m, _t: TorchCudaRunner.create(
        create_model("se_resnet_tiny"), mode="eager", dtype=torch.float32, device="cpu", channels_last=False
    ),
}


@pytest.mark.parametrize("name", list(RUNNERS))
def test_bad_batches_never_reach_the_backend(name: str, digits_models: dict[str, Path], tmp_path: Path) -> None:
    runner = RUNNERS[name](digits_models, tmp_path)
    seen: list[tuple[int, ...]] = []
    backend_run = runner._run

    def spy(batch: np.ndarray) -> np.ndarray:
        seen.append(batch.shape)
        return backend_run(batch)

    runner._run = spy  # type: ignore[method-assign]
    ok = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with runner:
        assert runner(ok).shape == (2, 10)
        nan = ok.copy()
        nan[1, 0, 0, 0] = np.nan
        bad = {
            "dtype": ok.astype(np.float64),
            "rank": ok[0],
            "numpy array": ok.tolist(),
            "NaN": nan,
        }
        for message, batch in bad.items():
            with pytest.raises(InvalidArgumentError, match=message):
                runner(batch)  # type: ignore[arg-type]
        assert runner.infer(nan, allow_nonfinite=True).shape == (2, 10)  # allowed: passed through unchanged
    assert seen == [(2, 3, 32, 32), (2, 3, 32, 32)]
