"""Every trends statistic against a known answer: by hand, or scipy on a small table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from fashionlens.analysis.trends import stats
from fashionlens.core.errors import InvalidInputError


# -- Wilson ---------------------------------------------------------------------------------------
def _wilson_by_hand(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(3, 10), (0, 5), (2, 2), (56, 70), (1, 1000)])
def test_wilson_matches_the_formula_and_scipy(k: int, n: int) -> None:
    low, high = stats.wilson_interval(k, n)
    hand = _wilson_by_hand(k, n)
    assert low == pytest.approx(max(0.0, hand[0]), abs=1e-12)
    assert high == pytest.approx(min(1.0, hand[1]), abs=1e-12)
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_wilson_known_values_and_small_groups() -> None:
    # 3 of 10: [0.1078, 0.6032] (e.g. Newcombe 1998, table I)
    assert stats.wilson_interval(3, 10) == pytest.approx((0.10779, 0.60322), abs=5e-5)
    # 2 of 2: the interval is wide; 1 is not claimed, 0.34 is still possible
    low, high = stats.wilson_interval(2, 2)
    assert low == pytest.approx(0.3424, abs=1e-4) and high == 1.0
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)
    lows, highs = stats.wilson_interval(np.array([0, 5]), np.array([10, 10]))
    assert lows.shape == (2,) and lows[0] == 0.0 and highs[1] == pytest.approx(0.7634, abs=1e-4)
    with pytest.raises(InvalidInputError, match="0 <= k <= n"):
        stats.wilson_interval(3, 2)


def test_newcombe_difference_interval_matches_the_paper() -> None:
    # Newcombe (1998), "Interval estimation for the difference between independent proportions",
    # example (a): 56/70 - 48/80 = 0.2, method 10 interval 0.0524 to 0.3339
    low, high = stats.newcombe_interval(56, 70, 48, 80)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    # example (d): 10/10 - 0/10 = 1, interval 0.6075 to 1.0000
    assert stats.newcombe_interval(10, 10, 0, 10) == pytest.approx((0.6075, 1.0), abs=1e-4)


# -- chi-square -----------------------------------------------------------------------------------
TABLE = np.array([[10, 20, 30], [20, 20, 10], [15, 5, 12]])


def test_chi_square_matches_scipy_and_cramers_v_by_hand() -> None:
    r = stats.chi_square_independence(TABLE)
    ref = sps.chi2_contingency(TABLE, correction=False)
    assert r.method == "asymptotic"
    assert r.statistic == pytest.approx(ref.statistic)
    assert r.p_value == pytest.approx(ref.pvalue)
    assert r.dof == ref.dof == 4
    np.testing.assert_allclose(r.expected, ref.expected_freq)
    n = TABLE.sum()
    assert r.cramers_v == pytest.approx(math.sqrt(ref.statistic / (n * 2)))
    assert r.cramers_v == pytest.approx(sps.contingency.association(TABLE, method="cramer"))
    # Pearson residuals square-sum to the statistic
    assert (r.residuals**2).sum() == pytest.approx(r.statistic)


def test_adjusted_residuals_of_a_2x2_table_are_the_z_statistic() -> None:
    table = np.array([[56, 14], [48, 32]])
    r = stats.chi_square_independence(table)
    z = stats.two_proportion_test(56, 70, 48, 80).statistic
    # in a 2x2 table every adjusted residual is +-z and the statistic is z^2
    assert r.std_residuals[0, 0] == pytest.approx(z)
    assert r.std_residuals[1, 0] == pytest.approx(-z)
    assert r.statistic == pytest.approx(z * z)
    frame = stats.chi_square_independence(pd.DataFrame(table, index=["a", "b"], columns=["x", "y"]))
    assert list(frame.residual_frame().index) == ["a", "b"]


def test_chi_square_with_small_expected_counts_uses_an_exact_permutation_answer() -> None:
    # 2 runway photos against 60 street photos: most expected runway counts are under 1
    table = np.array([[2, 0], [30, 30]])
    r = stats.chi_square_independence(table, permutations=9999, seed=1)
    assert r.method == "permutation" and r.small_expected_share > 0.2
    # exact answer: with the margins fixed, the top-left count is hypergeometric
    row1, col1, n = 2, 32, 62
    observed = sps.chi2_contingency(table, correction=False).statistic
    p = 0.0
    for a in range(0, 3):
        t = np.array([[a, row1 - a], [col1 - a, n - row1 - col1 + a]])
        stat = sps.chi2_contingency(t, correction=False).statistic
        if stat >= observed - 1e-9:
            p += sps.hypergeom.pmf(a, n, col1, row1)
    assert r.p_value == pytest.approx(p, abs=0.02)
    assert r.p_value > 0.05  # 2 of 2 is not evidence of a difference


def test_chi_square_drops_empty_rows_and_refuses_a_single_group() -> None:
    r = stats.chi_square_independence(np.array([[5, 5, 0], [0, 0, 0], [9, 1, 0]]))
    assert r.expected.shape == (2, 2) and r.rows == ("0", "2") and r.columns == ("0", "1")
    with pytest.raises(InvalidInputError, match="at least 2 groups"):
        stats.chi_square_independence(np.array([[5, 5], [0, 0]]))
    with pytest.raises(InvalidInputError, match="counts"):
        stats.chi_square_independence(np.array([[-1, 5], [2, 2]]))


# -- two proportions ------------------------------------------------------------------------------
def test_two_proportion_z_by_hand_and_as_chi_square() -> None:
    t = stats.two_proportion_test(56, 70, 48, 80)
    pooled = 104 / 150
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    assert t.test == "z" and t.diff == pytest.approx(0.2)
    assert t.statistic == pytest.approx(z) and t.statistic == pytest.approx(2.6502, abs=1e-4)
    ref = sps.chi2_contingency([[56, 14], [48, 32]], correction=False)
    assert t.p_value == pytest.approx(ref.pvalue)


def test_two_proportion_small_counts_use_fisher() -> None:
    t = stats.two_proportion_test(2, 2, 30, 60)
    assert t.test == "fisher" and math.isnan(t.statistic)
    assert t.p_value == pytest.approx(sps.fisher_exact([[2, 0], [30, 30]]).pvalue)
    # by hand: P(a) = C(32, a) C(30, 2 - a) / C(62, 2); a = 2 (observed, 496/1891) and a = 0
    # (435/1891) are at most as likely as the observed table
    assert t.p_value == pytest.approx((496 + 435) / 1891)
    with pytest.raises(InvalidInputError):
        stats.two_proportion_test(1, 0, 1, 2)


# -- multiple comparisons -------------------------------------------------------------------------
P = [0.01, 0.04, 0.03, 0.005]


def test_holm_by_hand() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max
    np.testing.assert_allclose(stats.holm(P), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(stats.holm([0.5, 0.9]), [1.0, 1.0])
    assert len(stats.holm([])) == 0


def test_benjamini_hochberg_by_hand_and_scipy() -> None:
    # sorted p * 4 / rank = 0.02, 0.02, 0.04, 0.04 -> running min from the top
    np.testing.assert_allclose(stats.benjamini_hochberg(P), [0.02, 0.04, 0.04, 0.02])
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, 25)
    np.testing.assert_allclose(stats.benjamini_hochberg(p), sps.false_discovery_control(p, method="bh"))
    np.testing.assert_allclose(stats.adjust(P, "none"), P)
    with pytest.raises(InvalidInputError, match="correction"):
        stats.adjust(P, "bonferroni")


# -- ratio, tables, verdicts ----------------------------------------------------------------------
def test_ratio_interval_katz_by_hand() -> None:
    ratio, low, high = stats.ratio_interval(20, 100, 10, 100)
    se = math.sqrt(1 / 20 - 1 / 100 + 1 / 10 - 1 / 100)
    assert ratio == pytest.approx(2.0)
    assert (low, high) == pytest.approx((2 * math.exp(-1.959964 * se), 2 * math.exp(1.959964 * se)))
    assert (low, high) == pytest.approx((0.9866, 4.0545), abs=1e-4)
    ratio0, _, _ = stats.ratio_interval(0, 2, 10, 40)  # 0.5 added to each cell
    assert ratio0 == pytest.approx((0.5 / 3) / (10.5 / 41))


COUNTS = pd.DataFrame(
    {"dress": [2, 18, 10], "outerwear": [0, 30, 5], "top+bottom": [0, 12, 25]},
    index=["runway", "street", "product"],
)


def test_share_table_and_pairwise_tests() -> None:
    shares = stats.share_table(COUNTS)
    runway = shares[shares["group"] == "runway"].set_index("category")
    assert runway.loc["dress", "share"] == 1.0 and runway.loc["dress", "n"] == 2
    assert runway.loc["dress", "ci_low"] == pytest.approx(0.3424, abs=1e-4)
    assert runway["small_group"].all()
    pairs = stats.pairwise_tests(COUNTS, correction="holm")
    assert len(pairs) == 9  # 3 pairs x 3 categories
    np.testing.assert_allclose(pairs["p_adjusted"], stats.holm(pairs["p_value"]))
    rs = pairs[(pairs["group_1"] == "runway") & (pairs["group_2"] == "street")]
    assert rs["verdict"].str.startswith("not significant").all()
    assert rs["verdict"].str.contains("runway n=2").all()
    sp = pairs[(pairs["group_1"] == "street") & (pairs["group_2"] == "product")].set_index("category")
    assert sp.loc["outerwear", "verdict"].startswith("higher in street")


def test_adoption_gap_with_two_runway_photos_claims_nothing() -> None:
    gap = stats.adoption_gap(COUNTS, "runway", "street").set_index("category")
    assert gap.loc["dress", "share_proposed"] == 1.0
    assert gap.loc["dress", "gap"] == pytest.approx(18 / 60 - 1.0)
    low, high = stats.newcombe_interval(18, 60, 2, 2)
    assert (gap.loc["dress", "gap_low"], gap.loc["dress", "gap_high"]) == pytest.approx((low, high))
    assert gap.loc["dress", "gap_high"] - gap.loc["dress", "gap_low"] > 0.5  # wide
    assert gap.loc["dress", "lift"] == pytest.approx(0.3)
    assert (gap["verdict"].str.startswith("not significant")).all()
    with pytest.raises(InvalidInputError, match="no group"):
        stats.adoption_gap(COUNTS, "video", "street")


def test_multi_valued_counts_use_group_totals() -> None:
    counts = pd.DataFrame({"top": [8, 3], "pants": [6, 3]}, index=["street", "runway"])
    totals = pd.Series({"street": 10, "runway": 4})
    shares = stats.share_table(counts, totals=totals).set_index(["group", "category"])
    assert shares.loc[("street", "top"), "share"] == 0.8 and shares.loc[("street", "pants"), "n"] == 10
    with pytest.raises(InvalidInputError, match="totals"):
        stats.share_table(counts, totals=pd.Series({"street": 5, "runway": 4}))


@pytest.mark.parametrize(("k", "n"), [(0, 1000), (1000, 1000), (0, 7), (3, 3), (1, 2)])
def test_wilson_interval_always_holds_the_share(k: int, n: int) -> None:
    from fashionlens.analysis.trends.stats import wilson_interval

    low, high = wilson_interval(k, n)
    assert 0.0 <= low <= k / n <= high <= 1.0
