from __future__ import annotations

import numpy as np
import pytest

from se_deploy.bench.stats import percentile, ratio_summary, summarize_latency, throughput_ips


def test_percentile_matches_numpy() -> None:
    values = [5.0, 1.0, 3.0, 9.0, 7.0, 2.0]
    for q in (0, 10, 50, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(np.percentile(values, q))
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary() -> None:
    summary = summarize_latency([10.0, 12.0, 11.0, 30.0])
    assert summary.p50 == 11.5 and summary.mean == 15.75 and summary.samples == 4
    assert summary.p99 == pytest.approx(np.percentile([10, 12, 11, 30], 99))
    assert throughput_ips(8, 40.0) == 200.0


def test_ratios_are_taken_round_by_round() -> None:
    # Drift doubles both variants' latency in the second half: per-round ratios stay at 1.2.
    twin = [10.0, 10.0, 20.0, 20.0]
    stock = [12.0, 12.0, 24.0, 24.0]
    summary = ratio_summary(stock, twin)
    assert summary.center == pytest.approx(1.2) and summary.spread == pytest.approx(0.0)
    assert not summary.noisy and summary.rounds == 4


def test_noise_flag_when_spread_exceeds_effect() -> None:
    summary = ratio_summary([10.0, 13.0, 9.0, 12.0], [10.0, 10.0, 10.0, 10.0])
    assert summary.median == pytest.approx(1.1)
    assert summary.noisy  # IQR 0.9..1.225 is wider than the 10% effect
    with pytest.raises(ValueError):
        ratio_summary([1.0], [1.0, 2.0])
