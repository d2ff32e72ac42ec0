"""Verification of an ONNX against torch: it fails when outputs differ; the tolerance scales with the output."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from se_deploy.export.torch_to_onnx import export_onnx
from se_deploy.export.verify import Tolerance, verify_onnx
from se_deploy.models import create_model


def test_verification_fails_when_outputs_differ(tmp_path: Path) -> None:
    model = create_model("se_resnet_tiny")
    path = tmp_path / "m.onnx"
    export_onnx(model, path, image_size=32)
    other = create_model("se_resnet_tiny")  # different random weights
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.add_(0.1)
    result = verify_onnx(path, other, image_size=32, batches=(2,))
    assert not result.passed
    assert result.max_abs_error > result.checks[0].limit


def test_tolerance_scales_with_the_output() -> None:
    import numpy as np

    assert Tolerance(atol=1e-4, rtol=1e-3).limit(np.array([-100.0, 3.0])) == pytest.approx(0.1001)
