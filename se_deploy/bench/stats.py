"""Statistics for latency measured on a noisy shared machine: percentiles, per-round ratios, noise flag."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LatencySummary:
    p50: float
    p90: float
    p99: float
    mean: float
    samples: int

    def to_dict(self) -> dict[str, float]:
        return {"p50": self.p50, "p90": self.p90, "p99": self.p99, "mean": self.mean}


RATIO_DEFINITION = (
    "every ratio is the geometric mean over rounds of the per-round ratio of two variants' round medians "
    "(interleaved rounds), so ratios compose exactly: stock/fused = (stock/twin) / (fused/twin), and each "
    "equals the ratio of the variants' geometric-mean round medians (the ms shown beside them); "
    "the spread is the inter-quartile range of the per-round ratios"
)


@dataclass(frozen=True)
class RatioSummary:
    """A/B ratio (1.10 = A is 10% slower than B): see ``RATIO_DEFINITION``.

    ``center`` (geometric mean of per-round ratios) is what every table shows: unlike the median of
    per-round ratios, it composes (median(a/c) / median(b/c) != median(a/b) in general: a report once
    showed stock/twin 1.141, fused/twin 1.244 and stock/fused 0.995). ``median`` is kept for reference.
    """

    center: float  # geometric mean of the per-round ratios
    median: float  # median of the per-round ratios
    low: float  # 25th percentile of the per-round ratios
    high: float  # 75th percentile
    rounds: int

    @property
    def spread(self) -> float:
        return self.high - self.low

    @property
    def noisy(self) -> bool:
        """The spread between rounds is larger than the effect measured: do not trust the sign."""
        return self.spread > abs(self.center - 1.0)

    def to_dict(self) -> dict[str, float | int | bool]:
        return {
            "geomean": round(self.center, 4),
            "median": round(self.median, 4),
            "iqr_low": round(self.low, 4),
            "iqr_high": round(self.high, 4),
            "rounds": self.rounds,
            "noisy": self.noisy,
        }


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100), as numpy's default."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def summarize_latency(samples_ms: Sequence[float]) -> LatencySummary:
    return LatencySummary(
        p50=percentile(samples_ms, 50),
        p90=percentile(samples_ms, 90),
        p99=percentile(samples_ms, 99),
        mean=statistics.fmean(samples_ms),
        samples=len(samples_ms),
    )


def ratio_summary(numerator_rounds: Sequence[float], denominator_rounds: Sequence[float]) -> RatioSummary:
    """Ratios computed round by round (both variants measured in the same round), then summarized."""
    if len(numerator_rounds) != len(denominator_rounds) or not numerator_rounds:
        raise ValueError("ratios need the same, non-zero number of rounds on both sides")
    ratios = [a / b for a, b in zip(numerator_rounds, denominator_rounds, strict=True)]
    return RatioSummary(
        geometric_mean(ratios), statistics.median(ratios), percentile(ratios, 25), percentile(ratios, 75), len(ratios)
    )


def geometric_mean(values: Sequence[float]) -> float:
    if not values or min(values) <= 0:
        raise ValueError("geometric mean needs positive values")
    return math.exp(statistics.fmean(math.log(v) for v in values))


def throughput_ips(batch: int, latency_ms: float) -> float:
    return batch * 1000.0 / latency_ms
