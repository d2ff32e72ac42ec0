from __future__ import annotations

from pathlib import Path

import pytest

from se_deploy.backends.base import BuildRequest
from se_deploy.backends.onnxruntime.build import build_onnxruntime_engine
from se_deploy.errors import InvalidArgumentError, OutputError
from se_deploy.repository import ServingOptions, TensorSpec, parse_triton_config, triton_config
from se_deploy.serve.package import package
from tests.backends.tensorrt.sidecars import plan_metadata

try:
    parse_triton_config('name: "probe"')
except ImportError as exc:  # pragma: no cover - the [test] extra installs tritonclient[grpc]
    pytest.skip(f"tritonclient[grpc] not installed: {exc}", allow_module_level=True)


def test_exported_config_parses_into_triton_model_config(digits_models) -> None:  # type: ignore[no-untyped-def]
    text = (digits_models["se_resnet_tiny"].parents[1] / "config.pbtxt").read_text()
    config = parse_triton_config(text)
    assert config.platform == "onnxruntime_onnx" and config.max_batch_size == 64
    assert [i.name for i in config.input] == ["input"] and list(config.input[0].dims) == [3, 32, 32]
    assert list(config.output[0].dims) == [10]
    assert list(config.dynamic_batching.preferred_batch_size) == [8, 16, 32]
    assert config.instance_group[0].count == 1


def test_fixed_batch_and_gpu_options_parse() -> None:
    options = ServingOptions(max_batch_size=16, preferred_batch_sizes=(4, 32), instances=2, kind="KIND_GPU")
    text = triton_config(
        "fixed", [TensorSpec("input", "float16", (4, 3, 8, 8))], [TensorSpec("y", "float16", (4, 10))], options=options
    )
    config = parse_triton_config(text)
    assert config.max_batch_size == 0 and list(config.input[0].dims) == [4, 3, 8, 8]
    assert config.input[0].data_type == config.output[0].data_type != 0
    dynamic = parse_triton_config(
        triton_config(
            "dyn",
            [TensorSpec("input", "float32", (-1, 3, 8, 8))],
            [TensorSpec("y", "float32", (-1, 10))],
            options=options,
        )
    )
    assert list(dynamic.dynamic_batching.preferred_batch_size) == [4]  # 32 > max_batch_size is dropped
    assert dynamic.instance_group[0].count == 2


def test_package_writes_a_repository_of_several_models(tmp_path: Path, digits_models) -> None:  # type: ignore[no-untyped-def]
    engine = tmp_path / "engine"
    build_onnxruntime_engine(BuildRequest(digits_models["se_resnet_tiny"], engine))
    repo = tmp_path / "repo"
    packaged = package([engine, digits_models["resnet_tiny"]], repo)
    assert [p.name for p in packaged] == ["se_resnet_tiny_fp32_fused", "resnet_tiny"] and all(
        p.validated for p in packaged
    )
    for name in ("se_resnet_tiny_fp32_fused", "resnet_tiny"):
        assert (repo / name / "1" / "model.onnx").is_file()
        assert parse_triton_config((repo / name / "config.pbtxt").read_text()).name == name
    assert "se_deploy fused nodes" in (repo / "se_resnet_tiny_fp32_fused" / "config.pbtxt").read_text()
    with pytest.raises(OutputError, match="--force"):
        package([engine], repo)
    package([engine], repo, force=True)
    assert sorted(p.name for p in repo.iterdir()) == ["resnet_tiny", "se_resnet_tiny_fp32_fused"]


def test_package_bad_input(tmp_path: Path, digits_models) -> None:  # type: ignore[no-untyped-def]
    model = digits_models["resnet_tiny"]
    with pytest.raises(InvalidArgumentError, match="at least one"):
        package([], tmp_path)
    with pytest.raises(InvalidArgumentError, match="named resnet_tiny"):
        package([model, model], tmp_path)
    with pytest.raises(InvalidArgumentError, match="may only use"):
        package([model], tmp_path, names=["bad name"])
    with pytest.raises(InvalidArgumentError, match="one per model"):
        package([model], tmp_path, names=["a", "b"])


def test_tensorrt_plan_gets_a_tensorrt_plan_config(tmp_path: Path) -> None:
    """Packaging a plan needs only its sidecar (TensorRT itself cannot be installed here)."""
    from se_deploy.backends.tensorrt.artifact import BatchRange

    plan = tmp_path / "se_resnet50_fp16.plan"
    plan.write_bytes(b"serialized engine bytes")
    plan_metadata(plugin="jit", batch=BatchRange(1, 8, 16), num_classes=1000).write(plan)
    (item,) = package([plan], tmp_path / "repo")
    config = parse_triton_config(item.config)
    assert config.platform == "tensorrt_plan" and config.max_batch_size == 16
    assert list(config.input[0].dims) == [3, 224, 224] and list(config.output[0].dims) == [1000]
    assert config.instance_group[0].kind == config.instance_group[0].KIND_GPU
    assert "JIT SE plugin" in item.config and "cannot" in item.config
    assert (tmp_path / "repo" / "se_resnet50_fp16" / "1" / "model.plan").read_bytes() == b"serialized engine bytes"
