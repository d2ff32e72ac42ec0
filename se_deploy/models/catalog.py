"""A summary of every registered model (what ``se-deploy list-models`` shows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from se_deploy.models.complexity_cache import complexity_of, lookup
from se_deploy.models.registry import get_spec, list_models
from se_deploy.models.spec import ModelSpec
from se_deploy.progress import Progress, Step, silent


@dataclass(frozen=True)
class ModelSummary:
    name: str
    family: str
    has_se: bool
    twin: str
    stride_placement: str | None
    weights_layout: str | None
    image_size: int
    num_classes: int
    params: int
    macs: int
    description: str
    paper_top1_err: float | None
    paper_top5_err: float | None
    paper_gmacs: float | None
    paper_params_m: float | None
    paper_source: str | None
    paper_note: str
    notes: str
    tiny: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "has_se": self.has_se,
            "twin": self.twin,
            "stride_placement": self.stride_placement,
            "weights_layout": self.weights_layout,
            "image_size": self.image_size,
            "num_classes": self.num_classes,
            "params": self.params,
            "params_m": round(self.params / 1e6, 3),
            "macs": self.macs,
            "gmacs": round(self.macs / 1e9, 4),
            "description": self.description,
            "paper": {
                "top1_err": self.paper_top1_err,
                "top5_err": self.paper_top5_err,
                "gmacs": self.paper_gmacs,
                "params_m": self.paper_params_m,
                "source": self.paper_source,
                "note": self.paper_note,
            },
            "notes": self.notes,
            "tiny": self.tiny,
        }


def summarize(spec: ModelSpec) -> ModelSummary:
    complexity = complexity_of(spec)  # committed counts; the meta device when a model is not in them
    paper = spec.paper
    return ModelSummary(
        name=spec.name,
        family=spec.family,
        has_se=spec.has_se,
        twin=spec.twin,
        stride_placement=spec.stride_placement,
        weights_layout=spec.weights_layout or spec.stride_placement,
        image_size=spec.image_size,
        num_classes=spec.num_classes,
        params=complexity.params,
        macs=complexity.macs,
        description=spec.description,
        paper_top1_err=paper.top1_err if paper else None,
        paper_top5_err=paper.top5_err if paper else None,
        paper_gmacs=paper.gmacs if paper else None,
        paper_params_m=paper.params_m if paper else None,
        paper_source=paper.source if paper else None,
        paper_note=paper.note if paper else "",
        notes=spec.notes,
        tiny=spec.tiny,
    )


def catalog(
    *, include_tiny: bool = False, family: str | None = None, progress: Progress = silent
) -> list[ModelSummary]:
    names = list_models(include_tiny=include_tiny, family=family)
    summaries = []
    for index, name in enumerate(names):
        spec = get_spec(name)
        if lookup(spec) is None:  # counted on the meta device: about a second per large model
            progress(Step(f"counting parameters and MACs of {name}", index, len(names)))
        summaries.append(summarize(spec))
    return summaries
