"""Read checkpoints (``.pth``/``.pt``/``.bin``/``.safetensors``, local or hub) into zoo models.

A checkpoint is untrusted input: pickles are read with ``torch.load(weights_only=True)`` only. Wrapped
state dicts (``state_dict``/``model``/... and ``module.`` prefixes) are unwrapped, foreign key layouts
renamed by the family's checkpoint filter, and any mismatch is reported key by key before anything
is loaded.
"""

from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from se_deploy.errors import WeightsError
from se_deploy.fileio import sha256_of
from se_deploy.models.hub import download_hub_weights, is_hub_source
from se_deploy.models.spec import AdaptedCheckpoint, ModelSpec
from se_deploy.models.timm_names import timm_architecture, zoo_model_for

# Wrapper keys used by common training loops, most specific first.
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "module", "params")
# Prefixes added by DataParallel/DistributedDataParallel and torch.compile.
_PREFIXES = ("module.", "_orig_mod.")
_MAX_LISTED = 8


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint read from disk: its flat state dict and where it came from."""

    source: str
    path: Path
    sha256: str
    state_dict: dict[str, torch.Tensor] = field(repr=False)


@dataclass(frozen=True)
class WeightsInfo:
    """What was loaded into a model; goes into export metadata."""

    source: str
    path: str
    sha256: str
    layout: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "path": self.path,
            "sha256": self.sha256,
            "layout": self.layout,
            "notes": list(self.notes),
        }


def read_checkpoint(
    source: str | os.PathLike[str], *, hub_cache_dir: str | os.PathLike[str] | None = None
) -> LoadedCheckpoint:
    """Read a local file or ``hf-hub:`` source into a flat ``name -> tensor`` dict."""
    source_str = str(source)
    path = download_hub_weights(source_str, hub_cache_dir) if is_hub_source(source_str) else Path(source)
    if not path.exists():
        raise WeightsError(f"weights file {str(path)!r} does not exist")
    if not path.is_file():
        raise WeightsError(f"weights path {str(path)!r} is not a file")
    if not os.access(path, os.R_OK):
        raise WeightsError(f"weights file {str(path)!r} is not readable (check its permissions)")
    raw = _read_raw(path)
    state_dict = unwrap_state_dict(raw, str(path))
    return LoadedCheckpoint(source_str, path, sha256_of(path), state_dict)


def _read_raw(path: Path) -> Any:
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(f"cannot read {str(path)!r} as safetensors: {exc}. Is the file complete?") from None
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if unsafe is None:
            raise WeightsError(
                f"cannot read {str(path)!r}: not a valid PyTorch checkpoint (the pickle stream is malformed). "
                "Supported: .pth/.pt/.bin (torch.save) and .safetensors."
            ) from None
        # weights_only refuses arbitrary objects: that is the point, say so plainly.
        raise WeightsError(
            f"refusing to load {str(path)!r}: it contains a Python object ({unsafe.group(1)}) beyond tensors, "
            "which could run code when unpickled. Re-save it as a plain state dict "
            "(torch.save(model.state_dict(), ...)) or as .safetensors."
        ) from None
    except Exception as exc:
        raise WeightsError(
            f"cannot read {str(path)!r}: not a valid PyTorch checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}). Supported: .pth/.pt/.bin "
            "(torch.save) and .safetensors."
        ) from None


def unwrap_state_dict(obj: Any, origin: str) -> dict[str, torch.Tensor]:
    """Find the state dict inside a training checkpoint and strip wrapper prefixes."""
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return _strip_prefixes(obj)
    if isinstance(obj, dict):
        for key in _WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], dict):
                return unwrap_state_dict(obj[key], origin)
        keys = ", ".join(map(str, list(obj)[:_MAX_LISTED])) or "none"
        raise WeightsError(
            f"no state dict found in {origin!r}: top-level keys are [{keys}]. Expected a dict of tensors, "
            f"or one under {', '.join(_WRAPPER_KEYS)}."
        )
    raise WeightsError(f"{origin!r} holds a {type(obj).__name__}, not a state dict of tensors")


def _strip_prefixes(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in _PREFIXES:
        if state_dict and all(key.startswith(prefix) for key in state_dict):
            state_dict = {key[len(prefix) :]: value for key, value in state_dict.items()}
    return state_dict


def infer_num_classes(spec: ModelSpec, state_dict: dict[str, torch.Tensor]) -> int | None:
    weight = state_dict.get(f"{spec.classifier}.weight")
    return int(weight.shape[0]) if weight is not None and weight.dim() == 2 else None


def check_compatible(model: nn.Module, state_dict: dict[str, torch.Tensor], spec: ModelSpec, origin: str) -> None:
    """Raise a WeightsError listing missing, unexpected and shape-mismatched keys, if any."""
    expected = model.state_dict()
    # BatchNorm's counter is absent from old checkpoints and irrelevant to inference.
    missing = [k for k in expected if k not in state_dict and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state_dict and state_dict[k].shape != expected[k].shape
    ]
    if not (missing or unexpected or mismatched):
        return
    parts = [f"weights {origin!r} do not fit {spec.name}:"]
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
        if keys:
            shown = ", ".join(keys[:_MAX_LISTED]) + (f", ... ({len(keys)} in all)" if len(keys) > _MAX_LISTED else "")
            parts.append(f"{label} keys: {shown}")
    parts.append(_mismatch_hint(spec, missing, unexpected, state_dict))
    raise WeightsError("\n  ".join(parts))


def _mismatch_hint(
    spec: ModelSpec, missing: list[str], unexpected: list[str], state_dict: dict[str, torch.Tensor]
) -> str:
    se_fc1 = [k for k in state_dict if k.endswith(".se.fc1.weight")]
    if not (missing or unexpected) and se_fc1:
        hidden, channels = state_dict[se_fc1[0]].shape[:2]
        return (
            f"The checkpoint's SE blocks use reduction {channels // hidden}; pass --se-reduction {channels // hidden}."
        )
    if missing and all(".se." in k for k in missing):
        return f"The checkpoint has no SE weights: it looks like the plain network; use --model {spec.twin}."
    if unexpected and all(".se." in k for k in unexpected):
        return f"The checkpoint has SE blocks; use --model {spec.twin}."
    return "Check that the checkpoint was trained for this architecture (see `se-deploy list-models`)."


def _check_timm_architecture(spec: ModelSpec, source: str) -> None:
    """Refuse a timm hub repository whose architecture is another zoo model (before downloading it)."""
    fits = zoo_model_for(source)
    if fits is not None and fits != spec.name and not spec.tiny:
        raise WeightsError(
            f"{source!r} holds timm's {timm_architecture(source)} weights, which is se-deploy's {fits}, "
            f"not {spec.name}. Use --model {fits} instead."
        )


def load_pretrained(
    spec: ModelSpec,
    source: str | os.PathLike[str],
    *,
    num_classes: int | None = None,
    se_reduction: int | None = None,
    hub_cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[nn.Module, WeightsInfo]:
    """Build ``spec``'s model and load ``source`` into it; nothing is loaded unless every key fits."""
    _check_timm_architecture(spec, str(source))
    checkpoint = read_checkpoint(source, hub_cache_dir=hub_cache_dir)
    adapted = (
        spec.checkpoint_filter(checkpoint.state_dict, spec, checkpoint.source)
        if spec.checkpoint_filter
        else AdaptedCheckpoint(checkpoint.state_dict, layout="native")
    )
    found_classes = infer_num_classes(spec, adapted.state_dict)
    if num_classes is not None and found_classes is not None and num_classes != found_classes:
        raise WeightsError(
            f"checkpoint {checkpoint.source!r} has a {found_classes}-class classifier but {num_classes} classes "
            f"were asked for; drop --num-classes or set it to {found_classes}"
        )
    model = spec.build(num_classes=num_classes or found_classes, se_reduction=se_reduction)
    check_compatible(model, adapted.state_dict, spec, checkpoint.source)
    model.load_state_dict(adapted.state_dict, strict=False)
    path = str(checkpoint.path.absolute())  # eval, from any folder, finds the reference weights again
    info = WeightsInfo(checkpoint.source, path, checkpoint.sha256, adapted.layout, adapted.notes)
    return model.eval(), info
