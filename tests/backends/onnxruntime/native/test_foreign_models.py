"""SE-native engines from ONNX files other toolchains wrote (tests/fixtures/foreign: legacy torch, tf2onnx,
Paddle2ONNX): ORT pools their GlobalAveragePool squeezes in blocked layout and some Expand the gate; the
rewrite takes those blocks, every bucket is verified against stock ORT by the build, and load serves them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import se_deploy
from se_deploy.backends.base import BuildRequest
from se_deploy.backends.onnxruntime.build import OnnxRuntimeOptions, build_onnxruntime_engine
from se_deploy.backends.onnxruntime.native.consumer_fold import POINTWISE_TARGET
from se_deploy.backends.onnxruntime.native.platform import current_platform
from se_deploy.image_like import image_like_inputs
from se_deploy.onnx_compare import session

FOREIGN = Path(__file__).resolve().parents[3] / "fixtures" / "foreign"

# fixture -> (SE blocks rewritten at NCHWc block 8 (this project's AVX2 machines), of the SE blocks it has,
# gates folded into the 1x1 conv after the block at batch 1)
NATIVE_AT_BLOCK_8 = {
    "paddle_lcnet_opset13.onnx": (3, 3, 1),  # two 1x1 convs have Cout >= H*W: not worth folding
    "paddle_ocr_rec_48x320_opset14.onnx": (2, 2, 2),
    "tf_senet_nhwc_opset17.onnx": (2, 3, 1),  # the third gate's shape is data-dependent (Reshape of Shape ops)
    "torch_legacy_senet_opset13.onnx": (2, 4, 1),  # + the data-dependent gate, and an SE input ORT keeps plain
}

pytestmark = pytest.mark.skipif(
    current_platform().nchwc_block is None, reason="ONNX Runtime uses no NCHWc layout on this CPU"
)


@pytest.mark.parametrize("name", list(NATIVE_AT_BLOCK_8))
def test_foreign_exports_get_verified_native_graphs(tmp_path: Path, name: str) -> None:
    build = build_onnxruntime_engine(BuildRequest(FOREIGN / name, tmp_path / "e"), OnnxRuntimeOptions(max_batch=2))
    native = build.description.native
    assert native is not None and all(v["passed"] for v in native["verification"])
    rewritten, blocks, folded = NATIVE_AT_BLOCK_8[name]
    assert len(native["blocks"]) <= blocks and all(b["native"] or b["reason"] for b in native["blocks"])
    if current_platform().nchwc_block == 8:
        assert native["native_blocks"] == rewritten
        assert sum(b["fold_target"] == POINTWISE_TARGET for b in native["blocks"]) == folded
    source = onnx.load(str(FOREIGN / name))
    dims = source.graph.input[0].type.tensor_type.shape.dim
    batch = dims[0].dim_value or 3  # fixed-batch exports (tf2onnx) run at their batch
    inputs = image_like_inputs((batch, *(d.dim_value for d in dims[1:])), seed=1)
    want = session(source).run(None, {source.graph.input[0].name: inputs})[0]
    got = se_deploy.load(tmp_path / "e")(inputs)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * float(np.abs(want).max()))
