from __future__ import annotations

from se_deploy.repository import ModelPaths, TensorSpec, triton_config


def test_model_paths_follow_the_triton_layout(tmp_path) -> None:
    paths = ModelPaths(tmp_path, "se_resnet50")
    assert paths.model == tmp_path / "se_resnet50" / "1" / "model.onnx"
    assert paths.config == tmp_path / "se_resnet50" / "config.pbtxt"


def test_dynamic_batch_config_leaves_the_batch_to_triton() -> None:
    text = triton_config(
        "m", [TensorSpec("input", "float32", (-1, 3, 224, 224))], [TensorSpec("logits", "float32", (-1, 1000))]
    )
    assert 'platform: "onnxruntime_onnx"' in text
    assert "max_batch_size: 64" in text
    assert "dims: [ 3, 224, 224 ]" in text and "dims: [ 1000 ]" in text
    assert "dynamic_batching" in text


def test_fixed_batch_config_keeps_the_batch_in_dims() -> None:
    text = triton_config(
        "m", [TensorSpec("input", "float32", (4, 3, 32, 32))], [TensorSpec("logits", "float32", (4, 10))]
    )
    assert "max_batch_size: 0" in text
    assert "dims: [ 4, 3, 32, 32 ]" in text
    assert "dynamic_batching" not in text


def test_missing_grpc_support_is_an_import_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """tritonclient without its grpc extra raises RuntimeError on import; export must not break on it."""
    import sys
    import types

    import pytest

    from se_deploy.repository import parse_triton_config

    class NoGrpc(types.ModuleType):
        def __getattr__(self, name: str) -> object:
            raise RuntimeError("The installation does not include grpc support.")

    monkeypatch.setitem(sys.modules, "tritonclient.grpc", NoGrpc("tritonclient.grpc"))
    with pytest.raises(ImportError, match=r"tritonclient\[grpc\]"):
        parse_triton_config('name: "m"')
