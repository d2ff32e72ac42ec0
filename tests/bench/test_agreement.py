from __future__ import annotations

import numpy as np
import pytest

from se_deploy.bench.agreement import binomial_upper, compare_predictions, paired_drop_upper


def test_binomial_upper_matches_closed_forms() -> None:
    # zero successes: (1 - p)^n = alpha; all but... checked against the beta quantile when scipy is there
    assert binomial_upper(0, 100, 0.95) == pytest.approx(1 - 0.05 ** (1 / 100), abs=1e-9)
    assert binomial_upper(5, 5, 0.99) == 1.0
    assert binomial_upper(3, 10, 0.99) > 0.3


def test_binomial_upper_matches_clopper_pearson() -> None:
    stats = pytest.importorskip("scipy.stats")
    for k, n in [(1, 450), (25, 4050), (141, 4050), (7, 20)]:
        assert binomial_upper(k, n, 0.99) == pytest.approx(stats.beta.ppf(0.99, k + 1, n - k), rel=1e-6)


def test_compare_predictions_counts_and_bounds() -> None:
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    reference = np.array([0, 1, 2, 3, 4, 5, 6, 0])  # 7 right
    candidate = np.array([0, 1, 2, 3, 4, 5, 0, 7])  # 7 right: lost image 6, gained image 7
    c = compare_predictions(labels, reference, candidate)
    assert (c.disagreements, c.lost, c.gained, c.top1_drop) == (2, 1, 1, 0.0)
    assert c.reference_top1 == c.candidate_top1 == 7 / 8
    assert c.disagreement_upper == pytest.approx(binomial_upper(2, 8, 0.99))
    assert 0 < c.top1_drop_upper <= 2 / 8


def test_paired_drop_upper_is_zero_without_discordant_images_and_grows_with_losses() -> None:
    assert paired_drop_upper(0, 0, 100, 0.99) == 0.0
    assert paired_drop_upper(10, 0, 1000, 0.99) == pytest.approx(0.01)
    assert paired_drop_upper(10, 10, 1000, 0.99) < paired_drop_upper(15, 5, 1000, 0.99)


def test_identical_predictions_pass_and_many_disagreements_fail() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 4000)
    assert compare_predictions(labels, labels, labels).failures() == []
    broken = labels.copy()
    broken[:200] = (broken[:200] + 1) % 10  # 5% wrong
    failures = compare_predictions(labels, labels, broken).failures()
    assert len(failures) == 2 and "disagreement" in failures[0] and "drop" in failures[1]


def test_mismatched_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="equal"):
        compare_predictions(np.zeros(3), np.zeros(3), np.zeros(4))
