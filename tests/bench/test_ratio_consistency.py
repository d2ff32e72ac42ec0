"""Every ratio in a bench report follows one definition, so the columns are derivable from each other.

A report once showed stock/twin 1.141, fused/twin 1.244 and "fused speed-up over stock 0.995x": each a
median of per-round ratios, which do not compose. Synthetic timings with that kind of noise must now
give columns where stock_vs_twin / fused_vs_twin == fused_speedup_vs_stock and each ratio equals the
ratio of the ``round_ms`` shown beside it.
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from se_deploy.bench.job import _overhead_rows
from se_deploy.bench.latency import Measurement
from se_deploy.bench.report import markdown
from se_deploy.bench.stats import RATIO_DEFINITION, ratio_summary


def _noisy_rounds(seed: int) -> dict[str, list[float]]:
    """Round medians of three variants on a machine whose speed drifts and jumps between rounds."""
    rng = np.random.default_rng(seed)
    drift = np.exp(rng.normal(0, 0.15, 10))  # the whole machine slower or faster per round
    base = {"stock": 11.4, "fused": 12.4, "twin": 10.0}
    return {v: list(ms * drift * np.exp(rng.normal(0, 0.12, 10))) for v, ms in base.items()}


def _measurements(rounds: dict[str, list[float]]) -> dict:
    return {
        (("onnxruntime", variant, "fp32"), 1): Measurement(("onnxruntime", variant, "fp32"), 1, list(ms), list(ms))
        for variant, ms in rounds.items()
    }


@pytest.mark.parametrize("seed", range(20))
def test_overhead_columns_are_derivable_from_each_other(seed: int) -> None:
    rounds = _noisy_rounds(seed)
    (row,) = _overhead_rows(_measurements(rounds), (1,))
    stock, fused, speedup = row["stock_vs_twin"], row["fused_vs_twin"], row["fused_speedup_vs_stock"]
    assert stock / fused == pytest.approx(speedup, rel=2e-4)
    ms = row["round_ms"]
    assert ms["stock"] / ms["twin"] == pytest.approx(stock, rel=2e-4)
    assert ms["fused"] / ms["twin"] == pytest.approx(fused, rel=2e-4)
    assert ms["stock"] / ms["fused"] == pytest.approx(speedup, rel=2e-4)
    # the spread is still that of the per-round ratios, and it brackets the reported center
    detail = row["detail"]["stock_vs_twin"]
    assert detail["rounds"] == 10 and detail["geomean"] == stock


def test_the_old_definition_did_not_compose() -> None:
    """The median of per-round ratios gives contradictory columns on the same timings (why it was replaced)."""
    worst = 0.0
    for seed in range(20):
        rounds = _noisy_rounds(seed)
        medians = {
            pair: ratio_summary(rounds[pair[0]], rounds[pair[1]]).median
            for pair in (("stock", "twin"), ("fused", "twin"), ("stock", "fused"))
        }
        derived = medians["stock", "twin"] / medians["fused", "twin"]
        worst = max(worst, abs(derived / medians["stock", "fused"] - 1))
    assert worst > 0.03  # several percent apart: a reader cannot reconcile the columns


def test_geometric_mean_of_ratios_ignores_drift_that_hits_both_variants() -> None:
    twin = [10.0, 20.0, 10.0, 40.0]
    stock = [12.0, 24.0, 12.0, 48.0]
    summary = ratio_summary(stock, twin)
    assert summary.center == pytest.approx(1.2) and summary.spread == pytest.approx(0.0)
    assert statistics.median(stock) / statistics.median(twin) == pytest.approx(1.2)


def test_reports_state_the_definition() -> None:
    (row,) = _overhead_rows(_measurements(_noisy_rounds(0)), (1,))
    report = {
        "environment": {"date": "d", "cpu": "c", "cores": 2, "threads": 2, "versions": {}},
        "models": {"name": "m", "se_blocks": 1, "image_size": 32, "baseline": "twin"},
        "request": {"rounds": 10},
        "overhead": [row],
        "results": [],
        "fidelity": [],
        "accuracy": [],
        "profile": [],
        "notes": [],
    }
    text = markdown(report)
    assert RATIO_DEFINITION in text
    assert f"| {row['round_ms']['twin']:.2f} | {row['stock_vs_twin']:.3f} | {row['fused_vs_twin']:.3f} |" in text
