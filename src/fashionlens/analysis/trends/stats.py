"""The statistics of a share table: intervals, a test of independence, pairwise tests, adoption gaps.

Everything works on counts: a ``(groups x categories)`` table where cell ``[g, c]`` is how many
units (people, photos, products) of group ``g`` fall in category ``c``. p-values come from
`scipy.stats`. Small groups are handled honestly rather than hidden:

- `wilson_interval` stays inside [0, 1] and is wide for small ``n`` (2 of 2 -> [0.34, 1.00]);
- `chi_square_independence` falls back to a permutation p-value when expected counts are small
  (Cochran's rule), and says so in ``method``;
- `two_proportion_test` uses Fisher's exact test when an expected count is under 5;
- `verdict` only claims a difference when the corrected p-value is under ``alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fashionlens.core.errors import InvalidInputError

CORRECTIONS = ("holm", "bh", "none")
SMALL_GROUP = 30
"""Groups with fewer units than this are flagged as small in every table."""


def _z(confidence: float) -> float:
    from scipy import stats

    if not 0.0 < confidence < 1.0:
        raise InvalidInputError(f"confidence must be in (0, 1); got {confidence}")
    return float(stats.norm.ppf(1.0 - (1.0 - confidence) / 2.0))


def wilson_interval(k: float | np.ndarray, n: float | np.ndarray, confidence: float = 0.95):
    """Wilson score interval of a proportion ``k / n`` -> ``(low, high)`` (arrays broadcast).

    ``n == 0`` gives ``(0, 1)``: no units, no information.
    """
    k_arr, n_arr = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    if np.any(k_arr < 0) or np.any(k_arr > n_arr):
        raise InvalidInputError(f"need 0 <= k <= n; got k={k}, n={n}")
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n_arr > 0, k_arr / n_arr, 0.0)
        denom = 1.0 + z * z / n_arr
        centre = (p + z * z / (2.0 * n_arr)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n_arr + z * z / (4.0 * n_arr * n_arr)) / denom
        # the interval always holds p itself (at k = 0 or k = n, rounding would put it a hair off)
        low = np.where(n_arr > 0, np.clip(np.minimum(centre - half, p), 0.0, 1.0), 0.0)
        high = np.where(n_arr > 0, np.clip(np.maximum(centre + half, p), 0.0, 1.0), 1.0)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def newcombe_interval(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> tuple[float, float]:
    """Interval of ``k1/n1 - k2/n2`` from the two Wilson intervals (Newcombe 1998, method 10)."""
    if n1 <= 0 or n2 <= 0:
        return (-1.0, 1.0)
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, confidence)
    l2, u2 = wilson_interval(k2, n2, confidence)
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


@dataclass(frozen=True)
class ChiSquareResult:
    """Pearson's chi-square test of independence of a ``(groups x categories)`` table.

    ``expected``, ``residuals`` (Pearson, ``(O - E) / sqrt(E)``) and ``std_residuals`` (adjusted,
    ``(O - E) / sqrt(E (1 - row/n)(1 - col/n))``, roughly standard normal under independence) are
    over the rows and columns kept (all-zero ones are dropped). ``method`` is ``"asymptotic"`` or
    ``"permutation"`` (used when more than 20% of expected counts are under 5, or any under 1).
    """

    statistic: float
    dof: int
    p_value: float
    cramers_v: float
    n: int
    expected: np.ndarray
    residuals: np.ndarray
    std_residuals: np.ndarray
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    method: str
    small_expected_share: float

    def residual_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.std_residuals, index=list(self.rows), columns=list(self.columns))


def _check_table(table: np.ndarray) -> np.ndarray:
    arr = np.asarray(table, dtype=float)
    if arr.ndim != 2:
        raise InvalidInputError(f"a contingency table must be 2-D; got shape {arr.shape}")
    if np.any(arr < 0) or not np.all(np.isfinite(arr)):
        raise InvalidInputError("a contingency table holds counts: finite and >= 0")
    return arr


def chi_square_independence(
    table: np.ndarray | pd.DataFrame,
    *,
    permutations: int = 4999,
    seed: int = 0,
    force_method: str | None = None,
) -> ChiSquareResult:
    """Chi-square test of independence (no continuity correction) with Cramér's V.

    Raises `InvalidInputError` when fewer than 2 rows or columns hold any count.
    """
    from scipy import stats

    if isinstance(table, pd.DataFrame):
        rows, cols = [str(r) for r in table.index], [str(c) for c in table.columns]
        arr = _check_table(table.to_numpy())
    else:
        arr = _check_table(np.asarray(table))
        rows, cols = [str(i) for i in range(arr.shape[0])], [str(j) for j in range(arr.shape[1])]
    keep_r, keep_c = arr.sum(axis=1) > 0, arr.sum(axis=0) > 0
    arr = arr[keep_r][:, keep_c]
    rows = [r for r, k in zip(rows, keep_r, strict=True) if k]
    cols = [c for c, k in zip(cols, keep_c, strict=True) if k]
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise InvalidInputError(
            f"a test of independence needs at least 2 groups and 2 categories with counts; got {arr.shape}"
        )
    n = float(arr.sum())
    expected = np.outer(arr.sum(axis=1), arr.sum(axis=0)) / n
    small = float(np.mean(expected < 5.0))
    method = force_method or ("permutation" if small > 0.2 or expected.min() < 1.0 else "asymptotic")
    if method not in ("asymptotic", "permutation"):
        raise InvalidInputError(f"method must be asymptotic or permutation; got {method!r}")
    if method == "permutation":
        res = stats.chi2_contingency(
            arr.astype(np.int64),
            correction=False,
            method=stats.PermutationMethod(n_resamples=permutations, rng=np.random.default_rng(seed)),
        )
    else:
        res = stats.chi2_contingency(arr, correction=False)
    chi2, dof = float(res.statistic), (arr.shape[0] - 1) * (arr.shape[1] - 1)
    v = math.sqrt(chi2 / (n * (min(arr.shape) - 1)))
    row_share = arr.sum(axis=1, keepdims=True) / n
    col_share = arr.sum(axis=0, keepdims=True) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = (arr - expected) / np.sqrt(expected)
        adjusted = (arr - expected) / np.sqrt(expected * (1.0 - row_share) * (1.0 - col_share))
    adjusted = np.nan_to_num(adjusted, nan=0.0, posinf=0.0, neginf=0.0)
    return ChiSquareResult(
        chi2,
        dof,
        float(res.pvalue),
        v,
        int(n),
        expected,
        pearson,
        adjusted,
        tuple(rows),
        tuple(cols),
        method,
        small,
    )


@dataclass(frozen=True)
class ProportionTest:
    diff: float  # p1 - p2
    statistic: float  # z (pooled); nan for Fisher
    p_value: float
    test: str  # "z" or "fisher"


def two_proportion_test(k1: int, n1: int, k2: int, n2: int, *, exact_below: float = 5.0) -> ProportionTest:
    """Two-sided test of ``k1/n1 == k2/n2``: pooled z test, or Fisher's exact test when an expected
    count is under ``exact_below`` (then ``statistic`` is nan)."""
    from scipy import stats

    if n1 <= 0 or n2 <= 0:
        raise InvalidInputError(f"both groups need units; got n1={n1}, n2={n2}")
    if not (0 <= k1 <= n1 and 0 <= k2 <= n2):
        raise InvalidInputError(f"need 0 <= k <= n; got {k1}/{n1}, {k2}/{n2}")
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    expected = np.outer([n1, n2], [pooled, 1 - pooled])
    if expected.min() < exact_below:
        res = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])
        return ProportionTest(p1 - p2, float("nan"), float(res.pvalue), "fisher")
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (p1 - p2) / se if se > 0 else 0.0
    return ProportionTest(p1 - p2, z, float(2 * stats.norm.sf(abs(z))), "z")


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error rate), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def adjust(p_values: Sequence[float], correction: str) -> np.ndarray:
    if correction == "holm":
        return holm(p_values)
    if correction == "bh":
        return benjamini_hochberg(p_values)
    if correction == "none":
        return np.asarray(p_values, dtype=float)
    raise InvalidInputError(f"correction must be one of {', '.join(CORRECTIONS)}; got {correction!r}")


def verdict(
    p_adjusted: float, diff: float, n1: int, n2: int, names: tuple[str, str], alpha: float = 0.05
) -> str:
    """A sentence that claims a difference only when the corrected p-value is under ``alpha``."""
    small = [f"{name} n={n}" for name, n in zip(names, (n1, n2), strict=True) if n < SMALL_GROUP]
    note = f" (small group: {', '.join(small)}; wide interval)" if small else ""
    if not (p_adjusted < alpha):
        return f"not significant{note}"
    higher = names[0] if diff > 0 else names[1]
    return f"higher in {higher}{note}"


def group_sizes(counts: pd.DataFrame, totals: pd.Series | None = None) -> pd.Series:
    """Units per group: the row sums, or ``totals`` when a unit can count in several categories
    (garment classes worn: a person with a top and pants counts in both)."""
    if totals is None:
        return counts.sum(axis=1).astype(int)
    sizes = totals.reindex(counts.index).fillna(0).astype(int)
    too_small = sizes < counts.max(axis=1)
    if too_small.any():
        raise InvalidInputError(f"group totals below a category count for {list(sizes.index[too_small])}")
    return sizes


def share_table(
    counts: pd.DataFrame, confidence: float = 0.95, totals: pd.Series | None = None
) -> pd.DataFrame:
    """Long table of every group x category: count, n, share and its Wilson interval, small flag."""
    sizes = group_sizes(counts, totals)
    rows = []
    for group, row in counts.iterrows():
        n = int(sizes[group])
        for category, k in row.items():
            low, high = wilson_interval(int(k), n, confidence)
            share = float(k) / n if n else float("nan")
            rows.append(
                {
                    "group": str(group),
                    "category": str(category),
                    "count": int(k),
                    "n": n,
                    "share": share,
                    "ci_low": low,
                    "ci_high": high,
                    "small_group": n < SMALL_GROUP,
                }
            )
    return pd.DataFrame(rows)


def pairwise_tests(
    counts: pd.DataFrame,
    *,
    correction: str = "holm",
    alpha: float = 0.05,
    confidence: float = 0.95,
    totals: pd.Series | None = None,
) -> pd.DataFrame:
    """Per category and pair of groups: both shares, the difference and its Newcombe interval, the
    test, raw and corrected p-value (over the whole family of tests) and a verdict."""
    sizes = group_sizes(counts, totals)
    groups = [g for g in counts.index if sizes[g] > 0]
    rows = []
    for i, g1 in enumerate(groups):
        for g2 in groups[i + 1 :]:
            n1, n2 = int(sizes[g1]), int(sizes[g2])
            for category in counts.columns:
                k1, k2 = int(counts.loc[g1, category]), int(counts.loc[g2, category])
                if k1 + k2 == 0:
                    continue
                test = two_proportion_test(k1, n1, k2, n2)
                low, high = newcombe_interval(k1, n1, k2, n2, confidence)
                rows.append(
                    {
                        "category": str(category),
                        "group_1": str(g1),
                        "group_2": str(g2),
                        "n_1": n1,
                        "n_2": n2,
                        "share_1": k1 / n1,
                        "share_2": k2 / n2,
                        "diff": test.diff,
                        "diff_low": low,
                        "diff_high": high,
                        "test": test.test,
                        "statistic": test.statistic,
                        "p_value": test.p_value,
                    }
                )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["p_adjusted"] = adjust(frame["p_value"].to_numpy(), correction)
    frame["correction"] = correction
    frame["verdict"] = [
        verdict(r.p_adjusted, r.diff, r.n_1, r.n_2, (r.group_1, r.group_2), alpha) for r in frame.itertuples()
    ]
    return frame


def ratio_interval(
    k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """``(p1/p2, low, high)``: risk ratio with the Katz log interval; 0.5 is added to every cell
    when a count is 0 (the ratio is then the corrected one). ``(nan, nan, nan)`` for an empty group."""
    if n1 <= 0 or n2 <= 0:
        return (float("nan"),) * 3
    if k1 == 0 or k2 == 0:
        k1c, n1c, k2c, n2c = k1 + 0.5, n1 + 1.0, k2 + 0.5, n2 + 1.0
    else:
        k1c, n1c, k2c, n2c = float(k1), float(n1), float(k2), float(n2)
    ratio = (k1c / n1c) / (k2c / n2c)
    se = math.sqrt(1 / k1c - 1 / n1c + 1 / k2c - 1 / n2c)
    z = _z(confidence)
    return ratio, ratio * math.exp(-z * se), ratio * math.exp(z * se)


def adoption_gap(
    counts: pd.DataFrame,
    proposed: str,
    adopted: str,
    *,
    correction: str = "holm",
    alpha: float = 0.05,
    confidence: float = 0.95,
    totals: pd.Series | None = None,
) -> pd.DataFrame:
    """What ``proposed`` shows (runway) against what ``adopted`` wears (street), per category.

    Columns: both shares with Wilson intervals, ``gap`` (adopted - proposed) with its Newcombe
    interval, ``lift`` (adopted share / proposed share) with its Katz interval, the test and
    corrected p-value (over the table's categories), a verdict.
    """
    for name in (proposed, adopted):
        if name not in counts.index:
            raise InvalidInputError(f"no group {name!r} in the table; groups: {list(map(str, counts.index))}")
    sizes = group_sizes(counts, totals)
    n_p, n_a = int(sizes[proposed]), int(sizes[adopted])
    if n_p == 0 or n_a == 0:
        raise InvalidInputError(f"group {proposed if n_p == 0 else adopted!r} has no units")
    rows = []
    for category in counts.columns:
        k_p, k_a = int(counts.loc[proposed, category]), int(counts.loc[adopted, category])
        if k_p + k_a == 0:
            continue
        lp, hp = wilson_interval(k_p, n_p, confidence)
        la, ha = wilson_interval(k_a, n_a, confidence)
        gap_low, gap_high = newcombe_interval(k_a, n_a, k_p, n_p, confidence)
        lift, lift_low, lift_high = ratio_interval(k_a, n_a, k_p, n_p, confidence)
        test = two_proportion_test(k_a, n_a, k_p, n_p)
        rows.append(
            {
                "category": str(category),
                "proposed": proposed,
                "adopted": adopted,
                "n_proposed": n_p,
                "n_adopted": n_a,
                "share_proposed": k_p / n_p,
                "proposed_low": lp,
                "proposed_high": hp,
                "share_adopted": k_a / n_a,
                "adopted_low": la,
                "adopted_high": ha,
                "gap": k_a / n_a - k_p / n_p,
                "gap_low": gap_low,
                "gap_high": gap_high,
                "lift": lift,
                "lift_low": lift_low,
                "lift_high": lift_high,
                "test": test.test,
                "p_value": test.p_value,
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["p_adjusted"] = adjust(frame["p_value"].to_numpy(), correction)
    frame["verdict"] = [
        verdict(r.p_adjusted, r.gap, r.n_adopted, r.n_proposed, (adopted, proposed), alpha)
        for r in frame.itertuples()
    ]
    return frame
