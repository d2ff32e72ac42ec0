"""Committed parameter/MAC counts of every registered model, so ``list-models`` answers in seconds.

Counting builds each network on the meta device and runs a shape-only forward pass: ~0.3-0.8 s of CPU
per large model, a minute for the zoo on a loaded 2-core machine. The counts only change when an
architecture does, so they are computed once and committed (``complexity.json`` beside this file);
``tests/models/test_complexity_cache.py`` recomputes every entry and fails when one is stale or
missing. A model not in the file (or built with other settings) is counted on the fly.

    python -m se_deploy.models.complexity_cache   # rewrite complexity.json after changing the zoo
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import torch
from torch import nn

from se_deploy.models.complexity import Complexity, measure
from se_deploy.models.registry import get_spec, list_models
from se_deploy.models.spec import ModelSpec
from se_deploy.progress import Progress, Step, silent

CACHE_FILE = Path(__file__).with_name("complexity.json")


def compute(spec: ModelSpec) -> Complexity:
    """Count ``spec``'s network at its defaults on the meta device (no weights allocated)."""
    with torch.device("meta"):
        model = spec.build().eval()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.forward = _identity  # type: ignore[method-assign]  # shape-preserving, not counted
    return measure(model, spec.image_size)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _key(spec: ModelSpec) -> dict[str, int | None]:
    return {"image_size": spec.image_size, "num_classes": spec.num_classes, "se_reduction": spec.se_reduction}


@cache
def _load() -> dict[str, dict[str, int | None]]:
    try:
        return json.loads(CACHE_FILE.read_text())["models"]
    except (OSError, ValueError, KeyError):
        return {}


def lookup(spec: ModelSpec) -> Complexity | None:
    """The committed counts of ``spec`` when they were made with its current defaults."""
    entry = _load().get(spec.name)
    if entry is None or {k: entry.get(k) for k in _key(spec)} != _key(spec):
        return None
    return Complexity(int(entry["params"]), int(entry["macs"]), spec.image_size)  # type: ignore[arg-type]


def complexity_of(spec: ModelSpec) -> Complexity:
    return lookup(spec) or compute(spec)


def compute_all(progress: Progress = silent) -> dict[str, dict[str, int | None]]:
    names = list_models(include_tiny=True)
    out = {}
    for index, name in enumerate(names):
        progress(Step(f"counting {name}", index, len(names)))
        spec = get_spec(name)
        counts = compute(spec)
        out[name] = _key(spec) | {"params": counts.params, "macs": counts.macs}
    return out


def write_cache() -> Path:
    payload = {
        "about": "parameter and MAC counts per zoo model at its defaults; python -m se_deploy.models.complexity_cache",
        "models": compute_all(),
    }
    CACHE_FILE.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    _load.cache_clear()
    return CACHE_FILE


if __name__ == "__main__":
    print(write_cache())
