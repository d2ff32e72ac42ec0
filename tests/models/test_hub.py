"""hf-hub: sources, resolved offline from a Hugging Face cache the test builds itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from se_deploy.errors import WeightsError
from se_deploy.models import create_model
from se_deploy.models.hub import download_hub_weights, parse_hub_source

pytest.importorskip("huggingface_hub")


def make_hf_cache(cache: Path, repo_id: str, filename: str, payload: Path | bytes, revision: str = "0" * 40) -> Path:
    """The on-disk layout huggingface_hub uses: models--owner--name/{refs/main,snapshots/<rev>/file}."""
    repo_dir = cache / f"models--{repo_id.replace('/', '--')}"
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(revision)
    snapshot = repo_dir / "snapshots" / revision
    snapshot.mkdir(parents=True)
    target = snapshot / filename
    target.write_bytes(payload if isinstance(payload, bytes) else payload.read_bytes())
    return target


def test_parse_hub_source() -> None:
    assert parse_hub_source("hf-hub:timm/seresnet50.a1_in1k") == ("timm/seresnet50.a1_in1k", None)
    assert parse_hub_source("hf-hub:timm/x@v1") == ("timm/x", "v1")
    with pytest.raises(WeightsError, match="OWNER/REPO"):
        parse_hub_source("hf-hub:seresnet50")


def test_timm_checkpoint_from_the_cache_loads_into_the_tv_model(tmp_path: Path) -> None:
    torch.manual_seed(5)
    source = create_model("se_resnet18_tv")
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(weights))
    make_hf_cache(tmp_path / "cache", "timm/seresnet18.test", "model.safetensors", weights)

    model = create_model("se_resnet18_tv", pretrained="hf-hub:timm/seresnet18.test", hub_cache_dir=tmp_path / "cache")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), rtol=0, atol=0)
    # timm's seresnet* are torchvision-placement weights: the paper-placement model refuses them.
    with pytest.raises(WeightsError, match="se_resnet18_tv"):
        create_model("se_resnet18", pretrained="hf-hub:timm/seresnet18.test", hub_cache_dir=tmp_path / "cache")


def test_uncached_repository_offline_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="HF_HUB_OFFLINE"):
        download_hub_weights("hf-hub:timm/not-cached", cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("source", "asked", "fits"),
    [
        ("hf-hub:timm/seresnext50_32x4d.racm_in1k", "se_resnext50_32x4d", "se_resnext50_32x4d_tv"),
        ("hf-hub:timm/legacy_seresnext101_32x4d.in1k", "se_resnext101_32x4d_tv", "se_resnext101_32x4d"),
        ("hf-hub:timm/legacy_senet154.in1k", "senet154_no_se", "senet154"),
        ("hf-hub:timm/inception_resnet_v2.tf_in1k", "se_inception_resnet_v2", "inception_resnet_v2"),
        ("hf-hub:timm/seresnet50.a1_in1k", "resnet50_tv", "se_resnet50_tv"),
    ],
)
def test_timm_repository_for_another_zoo_model_is_refused_before_download(
    tmp_path: Path, source: str, asked: str, fits: str
) -> None:
    from se_deploy.models.timm_names import zoo_model_for

    assert zoo_model_for(source) == fits
    with pytest.raises(WeightsError, match=f"Use --model {fits} instead"):
        create_model(asked, pretrained=source, hub_cache_dir=tmp_path / "empty-cache")


def test_timm_names_map_only_onto_registered_models() -> None:
    from se_deploy.models import list_models
    from se_deploy.models.timm_names import TIMM_TO_ZOO

    assert set(TIMM_TO_ZOO.values()) <= set(list_models())
    assert TIMM_TO_ZOO["legacy_senet154"] == "senet154"


def test_timm_seresnext_checkpoint_from_the_cache_loads_into_the_tv_model(tmp_path: Path) -> None:
    """timm's seresnext* use torchvision's names (``layer1.0.se.fc1``): they load as they are."""
    torch.manual_seed(6)
    source = create_model("se_resnext50_32x4d_tv")
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(weights))
    make_hf_cache(tmp_path / "cache", "timm/seresnext50_32x4d.test", "model.safetensors", weights)
    model = create_model(
        "se_resnext50_32x4d_tv", pretrained="hf-hub:timm/seresnext50_32x4d.test", hub_cache_dir=tmp_path / "cache"
    )
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), rtol=0, atol=0)
