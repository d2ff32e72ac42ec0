"""Shared fixtures. Tests never reach a model hub: huggingface_hub is forced offline."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub

from pathlib import Path

import pytest
import torch

if not torch.cuda.is_available():
    # No GPU: the Triton kernels run in Triton's CPU interpreter (read when kernels are defined).
    os.environ.setdefault("TRITON_INTERPRET", "1")

from se_deploy.models import create_model


@pytest.fixture
def tiny_se_model() -> torch.nn.Module:
    torch.manual_seed(1)
    return create_model("se_resnet_tiny")


@pytest.fixture
def tiny_weights(tmp_path: Path, tiny_se_model: torch.nn.Module) -> Path:
    """A plain state-dict checkpoint of ``se_resnet_tiny`` with non-trivial BN statistics."""
    _randomize_bn(tiny_se_model)
    path = tmp_path / "tiny.pth"
    torch.save(tiny_se_model.state_dict(), path)
    return path


def _randomize_bn(model: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(2)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)


ROOT = Path(__file__).resolve().parents[1]
DIGITS_WEIGHTS = ROOT / "weights" / "digits"


@pytest.fixture(scope="session")
def digits_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The digits train/test splits as image folders (written once per session)."""
    pytest.importorskip("sklearn")
    from se_deploy.data.digits import write_digits_folder

    root = tmp_path_factory.mktemp("digits")
    for split in ("train", "test"):
        write_digits_folder(root / split, split=split)
    return {"train": root / "train", "test": root / "test"}


@pytest.fixture(scope="session")
def digits_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The committed digits weights exported (dynamo) to ONNX: name -> model.onnx."""
    from se_deploy.export.job import ExportRequest, run_export

    repo = tmp_path_factory.mktemp("digits_repo")
    paths = {}
    for name in ("se_resnet_tiny", "resnet_tiny"):
        weights = DIGITS_WEIGHTS / f"{name}.safetensors"
        run_export(ExportRequest(model=name, output=repo, weights=str(weights), with_twin=False))
        paths[name] = repo / name / "1" / "model.onnx"
    return paths
