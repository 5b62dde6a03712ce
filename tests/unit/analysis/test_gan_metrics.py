"""KID, PRDC, FID and the memorisation check on point sets with known answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fashionlens.analysis.gan_metrics import (
    UNIT_FEATURES_GAMMA,
    fid,
    foreground_aspect,
    kid,
    memorisation,
    mmd2_unbiased_poly,
    nearest_distances,
    prdc,
    split_halves,
)
from fashionlens.core.errors import InvalidInputError


def _mmd2_loops(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 formula written out term by term (Binkowski et al. 2018, eq. 3)."""
    d = x.shape[1]

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float((a @ b / d + 1.0) ** 3)

    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    syy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    sxy = sum(k(a, b) for a in x for b in y) / (m * n)
    return sxx + syy - 2 * sxy


def test_mmd_matches_the_formula() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((7, 4)), rng.standard_normal((5, 4)) + 0.5
    assert mmd2_unbiased_poly(x, y) == pytest.approx(_mmd2_loops(x, y), rel=1e-10)


def test_kid_is_about_zero_for_one_distribution_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((600, 16)), rng.standard_normal((600, 16))
    same = kid(a, b, n_subsets=20, subset_size=300)
    shifted = kid(a, b + 0.5, n_subsets=20, subset_size=300)
    farther = kid(a, b + 1.0, n_subsets=20, subset_size=300)
    assert abs(same.mean) < 0.01
    assert shifted.mean > 20 * abs(same.mean) + 0.02
    assert farther.mean > shifted.mean
    # identical sets: ~0, slightly negative by exactly -2 / (m - 1) (mean k(x, x) - mean k(x, y))
    ident = kid(a, a, n_subsets=1, subset_size=600)
    gram = (a @ a.T / a.shape[1] + 1.0) ** 3
    expected = -2.0 / (len(a) - 1) * (np.diag(gram).mean() - gram.mean())
    assert ident.mean == pytest.approx(expected, rel=1e-9)
    assert -0.1 * shifted.mean < ident.mean < 0.0
    assert ident.subset_size == 600 and ident.n_subsets == 1


def test_kid_on_unit_vectors_with_the_cosine_kernel() -> None:
    rng = np.random.default_rng(1)

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    a = unit(rng.standard_normal((400, 32)) + 2.0)
    b = unit(rng.standard_normal((400, 32)) + 2.0)
    c = unit(rng.standard_normal((400, 32)) - 2.0)
    same = kid(a, b, n_subsets=10, subset_size=200, gamma=UNIT_FEATURES_GAMMA).mean
    other = kid(a, c, n_subsets=10, subset_size=200, gamma=UNIT_FEATURES_GAMMA).mean
    assert abs(same) < 0.05 < other


def test_prdc_of_a_set_against_itself() -> None:
    rng = np.random.default_rng(0)
    real = rng.standard_normal((200, 5))
    out = prdc(real, real.copy(), k=5)
    assert out.precision == 1.0 and out.recall == 1.0 and out.coverage == 1.0
    # each real point's k-NN ball holds itself and k - 1 neighbours strictly inside: density is 1
    assert out.density == pytest.approx(1.0)


def test_prdc_far_away_and_collapsed_fakes() -> None:
    grid = np.array(list(itertools.product(range(10), range(10))), dtype=float)  # 100 points
    far = prdc(grid, grid + 100.0, k=5)
    assert (far.precision, far.recall, far.density, far.coverage) == (0.0, 0.0, 0.0, 0.0)
    # mode collapse: every fake sits next to one real point
    rng = np.random.default_rng(0)
    collapsed = grid[[55]] + rng.normal(0, 0.01, (100, 2))
    out = prdc(grid, collapsed, k=5)
    assert out.precision == 1.0  # all fakes are realistic ...
    assert out.coverage <= 0.1  # ... but they cover one neighbourhood (the 3x3 around it)
    assert out.recall <= 0.02
    assert out.density > 1.0  # piled into the few balls around that point


def test_prdc_needs_more_than_k() -> None:
    with pytest.raises(InvalidInputError, match="k=5"):
        prdc(np.zeros((5, 2)), np.zeros((10, 2)), k=5)


def test_fid_known_answers() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((20000, 4)), rng.standard_normal((20000, 4))
    assert fid(a, b) == pytest.approx(0.0, abs=0.01)
    shift = np.array([3.0, 0, 0, 0])
    assert fid(a, b + shift) == pytest.approx(9.0, abs=0.15)  # |mu1 - mu2|^2, same covariance
    # a scaled covariance: tr(S1 + S2 - 2 sqrt(S1 S2)) = 4 (1 + 4 - 2 * 2) = 4
    assert fid(a, 2 * b) == pytest.approx(4.0, abs=0.15)


def test_memorisation_tells_copies_from_new_samples() -> None:
    rng = np.random.default_rng(0)
    train = rng.standard_normal((500, 8))
    heldout = rng.standard_normal((200, 8))
    fresh = memorisation(rng.standard_normal((200, 8)), heldout, train)
    copies = memorisation(train[:200] + rng.normal(0, 1e-3, (200, 8)), heldout, train)
    assert 0.85 < fresh.ratio < 1.15 and fresh.frac_closer_than_heldout_p5 < 0.15
    assert copies.ratio < 0.01 and copies.frac_closer_than_heldout_p5 == 1.0
    assert (copies.n_samples, copies.n_heldout, copies.n_train) == (200, 200, 500)


def test_nearest_distances_in_chunks() -> None:
    rng = np.random.default_rng(0)
    ref, q = rng.standard_normal((50, 3)), rng.standard_normal((37, 3))
    d, i = nearest_distances(q, ref, chunk=8)
    brute = np.linalg.norm(q[:, None] - ref[None], axis=2)
    assert np.allclose(d, brute.min(1)) and np.array_equal(i, brute.argmin(1))


def test_split_halves_are_disjoint() -> None:
    a, b = split_halves(101, seed=3)
    assert len(a) == len(b) == 50 and not set(a) & set(b)


@pytest.mark.parametrize(
    "real, fake, match",
    [
        (np.zeros((4, 3)), np.zeros((4, 2)), "width"),
        (np.zeros((0, 3)), np.zeros((4, 3)), "real"),
        (np.full((4, 3), np.nan), np.zeros((4, 3)), "NaN"),
        (np.zeros(4), np.zeros((4, 1)), "shape"),
    ],
)
def test_bad_features_are_refused(real: np.ndarray, fake: np.ndarray, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        kid(real, fake)


def test_foreground_aspect_of_drawn_shapes() -> None:
    canvas = np.full((64, 64, 3), 255, np.uint8)
    wide = canvas.copy()
    wide[24:40, 8:56] = 30  # 48 x 16
    tall = canvas.copy()
    tall[8:56, 22:42] = (200, 20, 20)  # 20 x 48, red on white
    assert foreground_aspect(wide) == pytest.approx(3.0, rel=0.1)
    assert foreground_aspect(tall) == pytest.approx(20 / 48, rel=0.1)
    assert np.isnan(foreground_aspect(canvas))  # nothing there
    dark = np.zeros((64, 64), np.uint8)
    dark[10:20, 10:50] = 255  # a light object on a dark background works the same
    assert foreground_aspect(dark) == pytest.approx(4.0, rel=0.1)
