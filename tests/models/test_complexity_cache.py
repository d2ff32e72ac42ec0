"""The committed parameter/MAC counts are current, equal the real models', and list-models uses them."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from se_deploy.models import complexity_cache, create_model, get_spec, list_models
from se_deploy.models.catalog import catalog
from se_deploy.models.complexity import count_macs, count_parameters
from se_deploy.models.complexity_cache import compute, compute_all, lookup


def test_the_committed_counts_are_current_for_every_registered_model() -> None:
    """Fails when an architecture changed without `python -m se_deploy.models.complexity_cache`."""
    fresh = compute_all()
    committed = complexity_cache._load()
    assert sorted(committed) == sorted(list_models(include_tiny=True)), (
        "models missing from or extra in complexity.json"
    )
    stale = [name for name in fresh if committed[name] != fresh[name]]
    assert not stale, f"complexity.json is stale for {stale}: run python -m se_deploy.models.complexity_cache"


@pytest.mark.parametrize("name", ["se_resnet_tiny", "resnet_tiny", "se_mobilenet_tiny"])
def test_counts_equal_the_real_model(name: str) -> None:
    if name not in list_models(include_tiny=True):
        pytest.skip(f"{name} is not registered")
    spec = get_spec(name)
    torch.manual_seed(0)
    model = create_model(name).eval()  # real weights: the shape-only meta pass must agree with it
    cached = lookup(spec)
    assert cached is not None
    assert cached.params == count_parameters(model)
    assert cached.macs == count_macs(model, spec.image_size)


def test_other_settings_are_not_answered_from_the_cache() -> None:
    spec = get_spec("se_resnet_tiny")
    assert lookup(dataclasses.replace(spec, num_classes=3)) is None
    assert lookup(dataclasses.replace(spec, name="not_in_the_cache")) is None
    assert compute(dataclasses.replace(spec, num_classes=3)).params < lookup(spec).params  # type: ignore[union-attr]


def test_list_models_builds_no_network_for_registered_models(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(spec):  # type: ignore[no-untyped-def]
        raise AssertionError(f"list-models built {spec.name}: it must read the committed counts")

    monkeypatch.setattr(complexity_cache, "compute", refuse)
    steps: list[str] = []
    rows = catalog(include_tiny=True, progress=steps.append)
    assert len(rows) == len(list_models(include_tiny=True)) and steps == []
    by_name = {row.name: row for row in rows}
    assert by_name["se_resnet50"].params == complexity_cache._load()["se_resnet50"]["params"]


def test_a_model_missing_from_the_cache_is_counted_with_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    partial = {name: entry for name, entry in complexity_cache._load().items() if name != "se_resnet_tiny"}
    monkeypatch.setattr(complexity_cache, "_load", lambda: partial)
    steps: list[str] = []
    rows = catalog(family="resnet", include_tiny=True, progress=steps.append)
    tiny = next(row for row in rows if row.name == "se_resnet_tiny")
    assert tiny.params == count_parameters(create_model("se_resnet_tiny"))
    assert len(steps) == 1 and "se_resnet_tiny" in steps[0] and steps[0].total == len(rows)  # type: ignore[attr-defined]
