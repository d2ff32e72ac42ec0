"""Every family of the zoo, through its tiny member: export with the twin (verified on ONNX Runtime at
batch 1 and 7 by the export itself), the SE matcher finds exactly the torch model's SE modules, the fused
graph verifies, and stripping SE from the export computes what the exported twin computes."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from se_deploy.backends.base import BuildRequest
from se_deploy.backends.onnxruntime.build import OnnxRuntimeOptions, build_onnxruntime_engine
from se_deploy.backends.onnxruntime.native.consumer_fold import FOLD_TARGET as CONSUMER_FOLD
from se_deploy.backends.onnxruntime.native.platform import current_platform
from se_deploy.export.job import ExportRequest, run_export
from se_deploy.models import create_model, get_spec
from se_deploy.models.se_block import SqueezeExcitation
from se_deploy.onnx_compare import compare_models
from se_deploy.rewrite.job import FuseRequest, run_fuse
from se_deploy.rewrite.match import find_se_blocks

# (tiny SE model, SE blocks whose residual add folds into the fused node)
TINY_FAMILIES = {
    "se_resnext_tiny": 4,
    "senet_tiny": 4,
    "se_mobilenet_tiny": 0,  # SE ends each block: no residual
    "se_bn_inception_tiny": 0,  # SE on the concatenated module output
    "se_inception_resnet_v2_tiny": 1,  # only the last Block8 adds without a residual scale in between
    "se_shufflenet_g3_tiny": 1,  # stride-2 units concatenate; the one stride-1 unit adds
}

# SE blocks the SE-native rewrite takes at NCHWc block 8 (AVX2); the others are left as ORT wrote them, with a reason
NATIVE_AT_BLOCK_8 = {
    "se_resnext_tiny": 3,  # ORT already keeps the last (1x1 spatial) block blocked
    "senet_tiny": 3,
    "se_mobilenet_tiny": 4,
    "se_bn_inception_tiny": 1,  # 1/8-width branches of 12, 20 channels: not block-aligned
    "se_inception_resnet_v2_tiny": 2,  # C=260 in the others
    "se_shufflenet_g3_tiny": 0,  # grouped 1x1 convs ORT does not block; the last block is blocked already
}
# ... and of those, gates folded into the depthwise conv after the block (all but the last, which feeds the pool)
FOLDED_INTO_DEPTHWISE_AT_BLOCK_8 = {"se_mobilenet_tiny": 3}


@pytest.mark.parametrize("name", list(TINY_FAMILIES))
def test_tiny_family_exports_fuses_and_strips_to_its_twin(tmp_path: Path, name: str) -> None:
    spec = get_spec(name)
    result = run_export(ExportRequest(model=name, output=tmp_path))
    assert [m.name for m in result.models] == [name, spec.twin]
    assert all(m.verification.passed and [c.batch for c in m.verification.checks] == [1, 7] for m in result.models)

    se_path = tmp_path / name / "1" / "model.onnx"
    expected_blocks = sum(isinstance(m, SqueezeExcitation) for m in create_model(name).modules())
    report = find_se_blocks(onnx.load(str(se_path)), residual=True)
    assert len(report.blocks) == expected_blocks and report.near_misses == ()
    assert sum(b.residual is not None for b in report.blocks) == TINY_FAMILIES[name]

    fused = run_fuse(FuseRequest(se_path, tmp_path / "fused.onnx"))
    assert fused.comparison.passed and sum(fused.fused_ops.values()) == expected_blocks
    run_fuse(FuseRequest(se_path, tmp_path / "stripped.onnx", strip=True))
    twin = onnx.load(str(tmp_path / spec.twin / "1" / "model.onnx"))
    assert compare_models(twin, onnx.load(str(tmp_path / "stripped.onnx")), batches=(2,)).passed
    _check_native_engine(se_path, tmp_path / "engine", name, expected_blocks)


def _check_native_engine(source: Path, engine: Path, name: str, se_blocks: int) -> None:
    """SE-native build (buckets 1, 2): every graph verified against stock ORT, every fallback with its reason."""
    description = build_onnxruntime_engine(BuildRequest(source, engine), OnnxRuntimeOptions(max_batch=2)).description
    native = description.native
    block = current_platform().nchwc_block
    if block == 8:  # this project's AVX2 machines; other block sizes change which blocks are aligned
        assert (native["native_blocks"] if native else 0) == NATIVE_AT_BLOCK_8[name]
        into_depthwise = sum(b["fold_target"] == CONSUMER_FOLD for b in native["blocks"]) if native else 0
        assert into_depthwise == FOLDED_INTO_DEPTHWISE_AT_BLOCK_8.get(name, 0)
    if native is None:
        assert any("no SE block could be rewritten" in n or "not built" in n for n in description.notes)
        return
    assert [v["batch"] for v in native["verification"]] == [1, 2] and all(v["passed"] for v in native["verification"])
    assert len(native["blocks"]) <= se_blocks and all(b["native"] or b["reason"] for b in native["blocks"])
    for b in native["blocks"]:
        if not b["native"]:
            assert any(b["reason"] in note for note in description.notes)
