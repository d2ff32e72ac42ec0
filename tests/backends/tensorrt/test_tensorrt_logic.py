"""Everything of the TensorRT backend that does not need TensorRT: batch profiles, network flags, the
plan sidecar and its mismatch checks, parser-error formatting, ONNX preparation, the missing-TensorRT
message. (Nothing here runs TensorRT: it cannot be installed on this project's machines.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx
import pytest

from se_deploy.backends.base import BuildRequest
from se_deploy.backends.tensorrt.artifact import (
    BatchRange,
    PlanMetadata,
    check_compatible,
    format_parser_errors,
    network_flags,
    sidecar_path,
)
from se_deploy.backends.tensorrt.build import TensorRTOptions, input_shape, prepare_onnx, validate_request
from se_deploy.backends.tensorrt.plugin import import_tensorrt
from se_deploy.errors import InvalidArgumentError, OutputError
from se_deploy.rewrite.surgery import fuse_se
from tests.backends.tensorrt.sidecars import plan_metadata
from tests.rewrite.graphs import SEGraph


def test_batch_profile_shapes() -> None:
    assert BatchRange(1, 8, 32).shapes((None, 3, 224, 224)) == ((1, 3, 224, 224), (8, 3, 224, 224), (32, 3, 224, 224))
    assert BatchRange(4, 4, 4).shapes((4, 3, 32, 32))[2] == (4, 3, 32, 32)
    with pytest.raises(InvalidArgumentError, match="1 <= min <= opt <= max"):
        BatchRange(8, 4, 32)
    with pytest.raises(InvalidArgumentError, match="fixed batch of 4"):
        BatchRange(1, 8, 32).shapes((4, 3, 32, 32))
    with pytest.raises(InvalidArgumentError, match="besides the batch"):
        BatchRange(1, 1, 1).shapes((None, 3, None, None))


def test_network_flags_per_version() -> None:
    assert network_flags("10.16.0", {"STRONGLY_TYPED": 3}) == 1 << 3
    assert network_flags("11.4.0", {"STRONGLY_TYPED": 3}) == 0  # TensorRT 11 networks are always strongly typed
    with pytest.raises(InvalidArgumentError, match="too old"):
        network_flags("8.6.1", {})


def test_sidecar_round_trip_and_mismatch_detection(tmp_path: Path) -> None:
    plan = tmp_path / "model.plan"
    plan.write_bytes(b"plan")
    meta = plan_metadata()
    assert meta.write(plan) == sidecar_path(plan) == tmp_path / "model.plan.json"
    assert PlanMetadata.read(plan) == meta
    check_compatible(meta, tensorrt_version="10.16.0.32", gpu_name="NVIDIA H200", compute_capability="9.0")
    with pytest.raises(InvalidArgumentError, match=r"built with TensorRT 10\.16\.0, this is TensorRT 11\.4\.0"):
        check_compatible(meta, tensorrt_version="11.4.0", gpu_name="NVIDIA H200", compute_capability="9.0")
    with pytest.raises(InvalidArgumentError, match=r"compute capability 9\.0"):
        check_compatible(meta, tensorrt_version="10.16.0", gpu_name="NVIDIA A100", compute_capability="8.0")
    with pytest.raises(InvalidArgumentError, match="tuned on NVIDIA H200"):
        check_compatible(meta, tensorrt_version="10.16.0", gpu_name="NVIDIA H100", compute_capability="9.0")
    sidecar_path(plan).write_text("{")
    with pytest.raises(InvalidArgumentError, match="not valid JSON"):
        PlanMetadata.read(plan)
    sidecar_path(plan).unlink()
    with pytest.raises(InvalidArgumentError, match="has no sidecar"):
        PlanMetadata.read(plan)


@dataclass
class _ParserError:  # the shape of TensorRT 10's IParserError (desc, node, node_name, node_operator)
    message: str
    name: str

    def desc(self) -> str:
        return self.message

    def node(self) -> int:
        return 7

    def node_name(self) -> str:
        return self.name

    def node_operator(self) -> str:
        return "SEExcite"


def test_parser_errors_name_the_failing_node() -> None:
    text = format_parser_errors([_ParserError("plugin not found", "se_0__excite")])
    assert text == "se_0__excite (SEExcite): plugin not found"


def test_onnx_preparation_for_each_plugin_mode() -> None:
    fused = fuse_se(SEGraph(residual=True).build()).model
    aot, count = prepare_onnx(fused, "aot")
    assert count == 1 and [n.op_type for n in aot.graph.node] == ["SESqueeze", "SEExcite", "SEScaleResidual"]
    inlined, count = prepare_onnx(fused, "none")
    assert count == 0 and all(n.domain != "se_deploy" for n in inlined.graph.node)
    assert input_shape(fused) == ("X", (None, 8, 5, 5))
    with pytest.raises(InvalidArgumentError, match="--plugin"):
        prepare_onnx(fused, "cuda")
    onnx.checker.check_model(aot)


def test_request_checks_before_tensorrt(tmp_path: Path) -> None:
    (tmp_path / "m.plan").write_bytes(b"x")
    with pytest.raises(OutputError, match="--force"):
        validate_request(BuildRequest(tmp_path / "m.onnx", tmp_path / "m.plan"), TensorRTOptions())
    with pytest.raises(InvalidArgumentError, match="opt-level"):
        validate_request(BuildRequest(tmp_path / "m.onnx", tmp_path / "n.plan"), TensorRTOptions(optimization_level=9))


def test_missing_tensorrt_is_one_clear_message() -> None:
    try:
        import tensorrt  # noqa: F401
    except Exception:
        with pytest.raises(InvalidArgumentError, match=r"se-deploy\[tensorrt\]"):
            import_tensorrt()
    else:  # pragma: no cover
        pytest.skip("TensorRT is importable here")
