"""Which zoo model a timm hub repository's weights belong in (``hf-hub:timm/NAME.TAG`` -> NAME).

timm names the same architecture differently from the SENet authors' layout: ``seresnext50_32x4d`` is
trained with torchvision's padded stem (our ``*_tv`` models), ``legacy_*`` are the authors' Caffe
weights (our paper-layout models). Loading hub weights into another zoo model is refused up front with
the right ``--model`` named, before any key-by-key comparison.
"""

from __future__ import annotations

from se_deploy.models.hub import is_hub_source, parse_hub_source

TIMM_OWNER = "timm"


def _timm_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for depth in (18, 34, 50, 101, 152):
        table[f"seresnet{depth}"] = f"se_resnet{depth}_tv"
        table[f"legacy_seresnet{depth}"] = f"se_resnet{depth}"
        table[f"resnet{depth}"] = f"resnet{depth}_tv"
    for depth in (50, 101):
        table[f"seresnext{depth}_32x4d"] = f"se_resnext{depth}_32x4d_tv"
        table[f"legacy_seresnext{depth}_32x4d"] = f"se_resnext{depth}_32x4d"
        table[f"resnext{depth}_32x4d"] = f"resnext{depth}_32x4d_tv"
    table["legacy_senet154"] = "senet154"
    table["inception_resnet_v2"] = "inception_resnet_v2"
    table["ens_adv_inception_resnet_v2"] = "inception_resnet_v2"
    return table


TIMM_TO_ZOO: dict[str, str] = _timm_table()


def timm_architecture(source: str) -> str | None:
    """``hf-hub:timm/seresnext50_32x4d.racm_in1k`` -> ``seresnext50_32x4d``; None for other sources."""
    if not is_hub_source(source):
        return None
    repo_id, _ = parse_hub_source(source)
    owner, name = repo_id.split("/")
    return name.split(".")[0] if owner == TIMM_OWNER else None


def zoo_model_for(source: str) -> str | None:
    """The zoo model that a timm hub repository's weights fit, when se-deploy knows it."""
    architecture = timm_architecture(source)
    return TIMM_TO_ZOO.get(architecture) if architecture else None
