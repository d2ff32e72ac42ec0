"""The TensorRT builder's preparation and sidecar, everything before and after TensorRT's own calls.

``prepare_plan`` and ``plan_metadata`` are the code ``build_tensorrt_plan`` runs around the TensorRT
parser/builder (which cannot run here); nothing in this file stands in for TensorRT.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import onnx.inliner
import pytest

from se_deploy import model_metadata
from se_deploy.backends.base import BuildRequest
from se_deploy.backends.onnxruntime.build import build_onnxruntime_engine
from se_deploy.backends.tensorrt.artifact import BatchRange, PlanMetadata
from se_deploy.backends.tensorrt.build import TensorRTOptions, plan_metadata, prepare_plan
from se_deploy.backends.tensorrt.runner import plan_preprocessing
from se_deploy.onnx_compare import compare_models
from se_deploy.prepare import Preparation
from se_deploy.preprocessing import Preprocessing
from se_deploy.rewrite.plugin_lowering import LOWERED_OPS
from se_deploy.serve.package import package, parse_triton_config

BGR_255 = Preprocessing(
    resize_size=36,
    crop_size=32,
    mean=(104.0, 117.0, 123.0),
    std=(1.0, 1.0, 1.0),
    color_space="BGR",
    pixel_range=(0.0, 255.0),
)


def _request(
    source: Path, tmp_path: Path, plugin: str = "aot", **preparation: object
) -> tuple[BuildRequest, TensorRTOptions]:
    return BuildRequest(source, tmp_path / "m.plan", Preparation(**preparation)), TensorRTOptions(  # type: ignore[arg-type]
        batch=BatchRange(1, 4, 8), plugin=plugin
    )


def _fp16_tensors(model: onnx.ModelProto) -> int:
    return sum(init.data_type == onnx.TensorProto.FLOAT16 for init in model.graph.initializer)


def _sidecar(request: tuple[BuildRequest, TensorRTOptions], **kwargs: object) -> PlanMetadata:
    return plan_metadata(
        *request,
        prepare_plan(*request, **kwargs),
        tensorrt_version="10.16.0",
        gpu_name="NVIDIA H200",
        compute_capability="9.0",
    )


def test_a_raw_export_is_fused_converted_and_lowered(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    """``--precision fp16`` on an FP32 export gives an FP16 network with the SE as plugin nodes (it used to
    hand the export to TensorRT unchanged: FP32, no plugin nodes, labelled fp16)."""
    source = digits_models["se_resnet_tiny"]
    fp16 = prepare_plan(*_request(source, tmp_path, precision="fp16"))
    fp32 = prepare_plan(*_request(source, tmp_path, precision="fp32"))
    assert fp16.prepared.fused and fp16.lowered == fp16.prepared.se_blocks > 0
    assert sorted({n.op_type for n in fp16.model.graph.node} & set(LOWERED_OPS)) == sorted(
        LOWERED_OPS[:2] + LOWERED_OPS[3:]
    )
    assert _fp16_tensors(fp16.model) > 0 and _fp16_tensors(fp32.model) == 0
    # the network TensorRT parses computes the model (the plugin nodes' ONNX functions run in ORT)
    assert compare_models(onnx.load(str(source)), fp32.model).passed
    assert compare_models(onnx.load(str(source)), fp16.model, atol=5e-2, rtol=5e-2).passed


def test_tensorrt_and_onnxruntime_take_the_same_preparation(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    source = digits_models["se_resnet_tiny"]
    engine = build_onnxruntime_engine(BuildRequest(source, tmp_path / "ort", Preparation(precision="fp16"))).engine_dir
    ort_model = onnx.load(str(engine / "model.onnx"))
    plan = prepare_plan(*_request(source, tmp_path, plugin="none", precision="fp16"))
    # "none" inlines the fused functions: same op multiset as ORT's model with its functions inlined
    ort_ops = sorted(n.op_type for n in onnx.inliner.inline_local_functions(ort_model).graph.node)
    assert sorted(n.op_type for n in plan.model.graph.node) == ort_ops
    assert _fp16_tensors(plan.model) == _fp16_tensors(ort_model)


def test_sidecar_says_what_was_built(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    source = digits_models["se_resnet_tiny"]
    assert _sidecar(_request(source, tmp_path, precision="fp16")).se_fused is True
    assert _sidecar(_request(source, tmp_path, plugin="none")).se_fused is False  # functions inlined: plain ops
    unfused = _request(source, tmp_path, fuse=False)
    assert prepare_plan(*unfused).lowered == 0 and _sidecar(unfused).se_fused is False
    meta = _sidecar(_request(source, tmp_path, precision="fp16"))
    assert (
        meta.precision == "fp16"
        and meta.num_classes == 10
        and meta.output_name == onnx.load(str(source)).graph.output[0].name
    )
    assert (
        meta.input_shape == [3, 32, 32]
        and meta.preprocessing == model_metadata.preprocessing_of(onnx.load(str(source))).to_dict()
    )


def test_package_accepts_the_plan_sidecar_se_deploy_writes(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    """The real producer's sidecar (not a hand-written one): `se-deploy package` used to refuse every plan."""
    request = _request(digits_models["se_resnet_tiny"], tmp_path, precision="fp16")
    request[0].output.write_bytes(b"serialized engine bytes")  # TensorRT's part, which cannot run here
    _sidecar(request).write(request[0].output)
    (item,) = package([request[0].output], tmp_path / "repo")
    config = parse_triton_config(item.config)
    assert config.platform == "tensorrt_plan" and config.max_batch_size == 8
    assert list(config.input[0].dims) == [3, 32, 32] and list(config.output[0].dims) == [10]


def test_preprocessing_is_the_model_own(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    """A BGR / 0-255 model keeps its preprocessing through the plan (it used to fall back to ImageNet's)."""
    source = tmp_path / "bgr.onnx"
    shutil.copyfile(digits_models["se_resnet_tiny"], source)
    model_metadata.embed_file(source, {"preprocessing": BGR_255.to_dict()})
    request = _request(source, tmp_path)
    meta = _sidecar(request)
    assert plan_preprocessing(request[0].output, meta) == BGR_255
    foreign = tmp_path / "foreign.onnx"
    model = onnx.load(str(digits_models["se_resnet_tiny"]))
    del model.metadata_props[:]
    onnx.save(model, str(foreign))
    meta = _sidecar(_request(foreign, tmp_path))
    assert any("ImageNet mean/std at 32px assumed" in note for note in meta.notes)
    assert np.allclose(plan_preprocessing(request[0].output, meta).mean, (0.485, 0.456, 0.406))


def test_bad_preparation_is_refused_before_tensorrt(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    from se_deploy.backends.tensorrt.build import validate_request
    from se_deploy.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="needs calibration images"):
        validate_request(*_request(digits_models["se_resnet_tiny"], tmp_path, precision="int8"))
    with pytest.raises(InvalidArgumentError, match="--plugin"):
        validate_request(*_request(digits_models["se_resnet_tiny"], tmp_path, plugin="cuda"))
