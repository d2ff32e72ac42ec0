"""INT8 calibration at the model's own input shape: a fixed 48 x 320 text-recognition-like model
(Paddle2ONNX export, tests/fixtures/foreign) calibrates with every aspect-ratio policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from se_deploy.backends.base import BuildRequest
from se_deploy.backends.onnxruntime.build import build_onnxruntime_engine
from se_deploy.onnx_compare import session
from se_deploy.prepare import Preparation

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "foreign" / "paddle_ocr_rec_48x320_opset14.onnx"


@pytest.mark.parametrize("fit", ["resize", "pad", "crop"])
def test_fixed_non_square_model_calibrates(tmp_path: Path, fit: str) -> None:
    rng = np.random.default_rng(0)
    images = tmp_path / "calib"
    images.mkdir()
    for i, (w, h) in enumerate([(200, 40), (64, 64), (500, 90), (120, 30)]):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(images / f"{i}.png")
    result = build_onnxruntime_engine(
        BuildRequest(
            FIXTURE, tmp_path / "engine", Preparation(precision="int8", calib=images, calib_samples=4, calib_fit=fit)
        )
    )
    assert result.description.se_blocks == 2 and result.description.fused
    assert result.fidelity["input_shapes"] == {"x": [2, 3, 48, 320]}
    quantized = onnx.load(str(tmp_path / "engine" / "model.onnx"))
    assert any(node.op_type == "QuantizeLinear" for node in quantized.graph.node)
    (out,) = session(quantized).run(None, {"x": np.zeros((1, 3, 48, 320), np.float32)})
    assert out.shape[0] == 1


def test_nhwc_model_calibration_is_refused_with_the_shape(tmp_path: Path) -> None:
    from se_deploy.errors import InvalidArgumentError

    images = tmp_path / "calib"
    images.mkdir()
    Image.new("RGB", (64, 64)).save(images / "0.png")
    nhwc = FIXTURE.with_name("tf_senet_nhwc_opset13.onnx")
    with pytest.raises(InvalidArgumentError, match=r"\[1, 64, 64, 3\], not an image batch \(N, 3, H, W\)"):
        build_onnxruntime_engine(BuildRequest(nhwc, tmp_path / "engine", Preparation(precision="int8", calib=images)))
    assert not (tmp_path / "engine").exists()
