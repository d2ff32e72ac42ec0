"""The issue's accuracy criteria on real data (the digits), with the committed weights:
INT8 top-1 within 0.5 points of FP32, and top-1 agreement with PyTorch FP32 >= 99% for FP16 and INT8."""

from __future__ import annotations

from pathlib import Path

import pytest

from se_deploy.backends.onnxruntime.builder import BuildRequest, build_onnxruntime_engine
from se_deploy.bench.accuracy import evaluate


@pytest.fixture(scope="module")
def results(tmp_path_factory, digits_models, digits_folders):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("engines")
    out = {}
    for name, source in digits_models.items():
        for precision in ("fp32", "fp16", "int8"):
            engine = root / f"{name}-{precision}"
            calib = digits_folders["train"] if precision == "int8" else None
            build_onnxruntime_engine(BuildRequest(source, engine, precision=precision, calib=calib, calib_samples=256))
            out[name, precision] = evaluate(engine, digits_folders["test"])
    return out


@pytest.mark.parametrize("name", ["se_resnet_tiny", "resnet_tiny"])
def test_fp32_engine_reproduces_pytorch(results, name: str) -> None:  # type: ignore[no-untyped-def]
    fp32 = results[name, "fp32"]
    assert fp32.images == fp32.labeled == 450
    assert fp32.top1 > 0.95  # the recipe's test accuracy (weights/digits/training.json)
    assert fp32.fidelity.top1_agreement == 1.0 and fp32.fidelity.max_abs_error < 1e-3


@pytest.mark.parametrize("name", ["se_resnet_tiny", "resnet_tiny"])
def test_int8_within_half_a_point_and_agreement_at_least_99(results, name: str) -> None:  # type: ignore[no-untyped-def]
    fp32, fp16, int8 = (results[name, p] for p in ("fp32", "fp16", "int8"))
    assert abs(int8.top1 - fp32.top1) <= 0.005
    assert fp16.fidelity.top1_agreement >= 0.99
    assert int8.fidelity.top1_agreement >= 0.99
    assert fp16.fidelity.cosine > 0.9999 and int8.fidelity.cosine > 0.99


def test_unlabeled_folder_gives_fidelity_only(tmp_path: Path, digits_models, digits_folders) -> None:  # type: ignore[no-untyped-def]
    import shutil

    flat = tmp_path / "flat"
    flat.mkdir()
    for image in sorted((digits_folders["test"] / "3").iterdir())[:5]:
        shutil.copy(image, flat / image.name)
    result = evaluate(digits_models["se_resnet_tiny"], flat)
    assert result.top1 is None and result.labeled == 0 and result.fidelity.top1_agreement == 1.0
    assert any("no labels" in note for note in result.notes)
