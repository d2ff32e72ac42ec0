"""Paired INT8-vs-FP32 acceptance with confidence bounds, not point estimates at the noise floor.

Both engines see the same images, so the comparison is paired: what matters is how often the INT8
top-1 differs from the FP32 top-1 (``disagreements``) and how many images FP32 gets right that INT8
gets wrong (``lost``) vs the reverse (``gained``). A criterion on the raw top-1 difference of 450 images
moves by 0.22 points per image and flips on any machine whose kernels round differently; a one-sided
upper confidence bound on the disagreement rate (exact Clopper-Pearson) and on the top-1 drop (paired,
McNemar-style) passes on any honest machine and fails when quantization is really broken.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

CONFIDENCE = 0.99
MAX_DISAGREEMENT = 0.03  # upper bound on P(INT8 top-1 != FP32 top-1)
MAX_TOP1_DROP = 0.01  # upper bound on FP32 top-1 minus INT8 top-1


@dataclass(frozen=True)
class PairedComparison:
    images: int
    reference_top1: float
    candidate_top1: float
    disagreements: int  # candidate top-1 != reference top-1
    lost: int  # reference right, candidate wrong
    gained: int  # reference wrong, candidate right
    confidence: float
    disagreement_upper: float  # one-sided upper bound on the disagreement rate
    top1_drop_upper: float  # one-sided upper bound on reference top-1 minus candidate top-1

    @property
    def disagreement_rate(self) -> float:
        return self.disagreements / self.images

    @property
    def top1_drop(self) -> float:
        return (self.lost - self.gained) / self.images

    def failures(
        self, *, max_disagreement: float = MAX_DISAGREEMENT, max_top1_drop: float = MAX_TOP1_DROP
    ) -> list[str]:
        """Why the candidate is not acceptable (empty when it is)."""
        out = []
        if self.disagreement_upper > max_disagreement:
            out.append(
                f"top-1 disagreement with FP32 {self.disagreements}/{self.images}: its {self.confidence:.0%} upper "
                f"bound {self.disagreement_upper:.2%} exceeds {max_disagreement:.2%}"
            )
        if self.top1_drop_upper > max_top1_drop:
            out.append(
                f"top-1 drop {self.top1_drop:.2%} (lost {self.lost}, gained {self.gained}): its "
                f"{self.confidence:.0%} upper bound {self.top1_drop_upper:.2%} exceeds {max_top1_drop:.2%}"
            )
        return out

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"disagreement_rate": self.disagreement_rate, "top1_drop": self.top1_drop}


def compare_predictions(
    labels: np.ndarray, reference: np.ndarray, candidate: np.ndarray, *, confidence: float = CONFIDENCE
) -> PairedComparison:
    """Paired comparison of two models' top-1 predictions on the same labeled images."""
    labels, reference, candidate = (np.asarray(a).reshape(-1) for a in (labels, reference, candidate))
    if not labels.size or not labels.shape == reference.shape == candidate.shape:
        raise ValueError(
            f"need equal, non-empty label/prediction arrays, got {labels.shape, reference.shape, candidate.shape}"
        )
    n = labels.size
    right_ref, right_cand = reference == labels, candidate == labels
    disagreements = int((reference != candidate).sum())
    lost = int((right_ref & ~right_cand).sum())
    gained = int((~right_ref & right_cand).sum())
    return PairedComparison(
        images=n,
        reference_top1=float(right_ref.mean()),
        candidate_top1=float(right_cand.mean()),
        disagreements=disagreements,
        lost=lost,
        gained=gained,
        confidence=confidence,
        disagreement_upper=binomial_upper(disagreements, n, confidence),
        top1_drop_upper=paired_drop_upper(lost, gained, n, confidence),
    )


def binomial_upper(successes: int, trials: int, confidence: float) -> float:
    """Exact one-sided (Clopper-Pearson) upper confidence bound on a binomial proportion."""
    if not 0 <= successes <= trials or trials < 1:
        raise ValueError(f"need 0 <= successes <= trials, trials >= 1; got {successes}/{trials}")
    if successes == trials:
        return 1.0
    alpha = 1.0 - confidence
    low, high = successes / trials, 1.0
    for _ in range(60):  # bisection: the p where P(X <= successes | p) = alpha
        middle = (low + high) / 2
        if _binomial_cdf(successes, trials, middle) > alpha:
            low = middle
        else:
            high = middle
    return high


def paired_drop_upper(lost: int, gained: int, n: int, confidence: float) -> float:
    """Upper bound on (lost - gained) / n: among the discordant pairs, ``lost`` is binomial (McNemar).

    With m = lost + gained discordant images, drop = (2 * lost - m) / n; bounding the share of discordant
    images that are losses by its exact upper bound bounds the drop, conditional on m.
    """
    discordant = lost + gained
    if discordant == 0:
        return 0.0
    share = binomial_upper(lost, discordant, confidence)
    return discordant * (2 * share - 1) / n


def _binomial_cdf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0 if k < n else 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        for i in range(k + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))
