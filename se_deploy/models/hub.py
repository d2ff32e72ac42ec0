"""Resolve ``hf-hub:owner/repo[@revision]`` weight sources to a local file via huggingface_hub.

Online, files are downloaded into the Hugging Face cache; offline (``HF_HUB_OFFLINE=1``) only what is
already cached resolves. huggingface_hub is an optional dependency (``pip install 'se-deploy[hub]'``).
"""

from __future__ import annotations

import os
from pathlib import Path

from se_deploy.errors import WeightsError

HUB_PREFIX = "hf-hub:"
# Tried in order: timm publishes safetensors, older repos only the pickle.
HUB_WEIGHT_FILES: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")


def is_hub_source(source: str | os.PathLike[str]) -> bool:
    return isinstance(source, str) and source.startswith(HUB_PREFIX)


def parse_hub_source(source: str) -> tuple[str, str | None]:
    """``hf-hub:timm/seresnet50.a1_in1k@main`` -> ``("timm/seresnet50.a1_in1k", "main")``."""
    spec = source[len(HUB_PREFIX) :]
    repo_id, _, revision = spec.partition("@")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise WeightsError(
            f"bad hub source {source!r}: expected hf-hub:OWNER/REPO[@REVISION], e.g. hf-hub:timm/seresnet50.a1_in1k"
        )
    return repo_id, revision or None


def download_hub_weights(source: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Local path of the weights file of a hub repository (downloading it when online)."""
    repo_id, revision = parse_hub_source(source)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise WeightsError(
            f"loading {source!r} needs huggingface_hub: pip install 'se-deploy[hub]' "
            "(or download the weights yourself and pass the file path)"
        ) from None
    failures = []
    for filename in HUB_WEIGHT_FILES:
        try:
            path = hf_hub_download(
                repo_id, filename, revision=revision, cache_dir=str(cache_dir) if cache_dir else None
            )
            return Path(path)
        except Exception as exc:  # huggingface_hub raises many types; report each attempt
            failures.append(f"{filename}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    hint = (
        " HF_HUB_OFFLINE is set, so only cached files resolve: download them once online, or pass a local file path."
        if offline
        else " Check the repository name, your network access, and HF_TOKEN for private repositories."
    )
    raise WeightsError(f"cannot get weights for {source!r}: " + "; ".join(failures) + "." + hint)
