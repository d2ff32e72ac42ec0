"""Fidelity's PyTorch reference for an export with random weights is rebuilt exactly from the engine's facts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from se_deploy import model_metadata
from se_deploy.bench.accuracy import torch_reference
from se_deploy.export.job import ExportRequest, run_export
from se_deploy.models import create_model


def _logits(reference: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return reference(torch.from_numpy(images)).numpy()


@pytest.mark.parametrize("se_reduction", [None, 2])
def test_random_weight_export_is_rebuilt_with_its_fitted_statistics(tmp_path: Path, se_reduction: int | None) -> None:
    run_export(ExportRequest(model="se_resnet_tiny", output=tmp_path, with_twin=False, se_reduction=se_reduction))
    path = tmp_path / "se_resnet_tiny" / "1" / "model.onnx"
    model = onnx.load(str(path))
    facts = model_metadata.read(model)
    assert facts["batch_norm_fitted"] == {"images": 4, "image_size": 32, "seed": 0}
    assert facts["se_reduction"] == se_reduction
    reference, note = torch_reference(model, None)
    assert reference is not None and note is None
    images = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    (onnx_logits,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": images})
    np.testing.assert_allclose(_logits(reference, images), onnx_logits, atol=1e-4, rtol=1e-4)

    # An export made before statistics were fitted records no batch_norm_fitted: rebuilt as it was then.
    model_metadata.embed(model, {"batch_norm_fitted": None})
    old_reference, _ = torch_reference(model, None)
    torch.manual_seed(0)
    old = create_model("se_resnet_tiny", se_reduction=se_reduction)
    assert old_reference is not None
    np.testing.assert_array_equal(_logits(old_reference, images), _logits(old, images))
    assert not np.allclose(_logits(old_reference, images), onnx_logits, atol=1e-3)
