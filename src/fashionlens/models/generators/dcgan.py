"""DCGAN (Radford et al. 2016) exactly as the PyTorch DCGAN tutorial, plus a conditional variant.

Unconditional (the seed's model, ``DCGANSpec()`` defaults): ``nz = 100``, ``ngf = ndf = 64``,
``nc = 3``, 64x64 images in ``[-1, 1]``.

- Generator: ``z (nz, 1, 1)`` -> ConvTranspose(4, 1, 0) -> 4x4 -> four ConvTranspose(4, 2, 1)
  -> 64x64, BatchNorm + ReLU after each but the last, then Tanh.
- Discriminator: four strided Conv(4, 2, 1) 64 -> 4, BatchNorm (not on the first) + LeakyReLU
  0.2, then Conv(4, 1, 0) -> 1x1 and Sigmoid. Trained with BCE.
- Weights from ``N(0, 0.02)`` (BatchNorm scales from ``N(1, 0.02)``, biases 0): `weights_init`.

Conditional (``labels`` and/or ``colours`` given): one condition per attribute (the product's
articleType bucket, its colour group).

- Generator: a conditional DCGAN. Each attribute has a learned embedding (``embed_dim`` wide,
  ``N(0, 1)`` like ``z``) concatenated to ``z``, so the first ConvTranspose sees
  ``nz + embed_dim * n_attributes`` channels; the rest is the tutorial generator.
- Discriminator: a projection discriminator (Miyato & Koyama, ICLR 2018). The tutorial's conv
  stack gives ``h (ndf*8, 4, 4)``; the logit is the tutorial's last conv on ``h`` plus, per
  attribute, ``<V[y], sum_xy h>`` (a class embedding dotted with the sum-pooled features), then
  Sigmoid, so the same BCE loss trains it. Projection scales better with many classes than
  concatenating one-hot maps to the image, and it leaves the unconditional path unchanged.

torch is imported when a network is built, not when this module is imported.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, NotReadyError, require
from fashionlens.models.weights import shipped_or_file

logger = logging.getLogger(__name__)

IMAGE_SIZE = 64
OTHER = "other"


@dataclass(frozen=True)
class DCGANSpec:
    """The shape of a DCGAN. Empty ``labels`` and ``colours``: the unconditional tutorial model."""

    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    nc: int = 3
    labels: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    embed_dim: int = 32
    image_size: int = field(default=IMAGE_SIZE)

    def __post_init__(self) -> None:
        for name in ("nz", "ngf", "ndf", "embed_dim"):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"DCGAN {name} must be >= 1; got {getattr(self, name)}")
        if self.nc not in (1, 3):
            raise InvalidInputError(f"DCGAN nc must be 1 (grey) or 3 (RGB); got {self.nc}")
        if self.image_size != IMAGE_SIZE:
            raise InvalidInputError(f"DCGAN image_size must be {IMAGE_SIZE}; got {self.image_size}")
        for name in ("labels", "colours"):
            values = tuple(getattr(self, name))
            if len(set(values)) != len(values):
                raise InvalidInputError(f"DCGAN {name} has duplicates: {list(values)}")
            object.__setattr__(self, name, values)

    @property
    def conditional(self) -> bool:
        return bool(self.labels or self.colours)

    @property
    def attributes(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(name, classes)`` per conditioning attribute, in the order the networks take them."""
        out = []
        if self.labels:
            out.append(("label", self.labels))
        if self.colours:
            out.append(("colour", self.colours))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"], d["colours"] = list(self.labels), list(self.colours)
        return d

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DCGANSpec:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        for key in ("labels", "colours"):
            if key in known:
                known[key] = tuple(str(v) for v in known[key])
        return cls(**known)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def weights_init(m: Any) -> None:
    """The tutorial's init: conv weights ``N(0, 0.02)``, BatchNorm ``N(1, 0.02)`` and bias 0."""
    import torch.nn as nn

    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


@cache
def _classes() -> tuple[Any, Any]:
    torch = require("torch")
    nn = torch.nn

    class Generator(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self, spec: DCGANSpec) -> None:
            super().__init__()
            self.spec = spec
            ngf, attrs = spec.ngf, spec.attributes
            self.embeds = nn.ModuleList([nn.Embedding(len(classes), spec.embed_dim) for _, classes in attrs])
            nin = spec.nz + spec.embed_dim * len(attrs)
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nin, ngf * 8, 4, 1, 0, bias=False),
                nn.BatchNorm2d(ngf * 8),
                nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 4),
                nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 2),
                nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf),
                nn.ReLU(True),
                nn.ConvTranspose2d(ngf, spec.nc, 4, 2, 1, bias=False),
                nn.Tanh(),
            )

        def forward(self, z: Any, *conditions: Any) -> Any:
            if len(conditions) != len(self.embeds):
                raise InvalidInputError(
                    f"generator takes {len(self.embeds)} condition tensor(s); got {len(conditions)}"
                )
            if z.dim() == 2:
                z = z[:, :, None, None]
            parts = [z] + [emb(c)[:, :, None, None] for emb, c in zip(self.embeds, conditions, strict=True)]
            return self.main(torch.cat(parts, dim=1) if len(parts) > 1 else z)

    class Discriminator(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self, spec: DCGANSpec) -> None:
            super().__init__()
            self.spec = spec
            ndf = spec.ndf
            self.main = nn.Sequential(
                nn.Conv2d(spec.nc, ndf, 4, 2, 1, bias=False),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 2),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 4),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 8),
                nn.LeakyReLU(0.2, inplace=True),
            )
            self.head = nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False)
            self.projections = nn.ModuleList(
                [nn.Embedding(len(classes), ndf * 8) for _, classes in spec.attributes]
            )
            for emb in self.projections:
                nn.init.normal_(emb.weight, 0.0, 0.02)
            self.sigmoid = nn.Sigmoid()

        def logits(self, x: Any, *conditions: Any) -> Any:
            if len(conditions) != len(self.projections):
                raise InvalidInputError(
                    f"discriminator takes {len(self.projections)} condition tensor(s); got {len(conditions)}"
                )
            h = self.main(x)
            out = self.head(h).view(-1)
            if self.projections:
                pooled = h.sum(dim=(2, 3))
                for emb, c in zip(self.projections, conditions, strict=True):
                    out = out + (emb(c) * pooled).sum(dim=1)
            return out

        def forward(self, x: Any, *conditions: Any) -> Any:
            return self.sigmoid(self.logits(x, *conditions))

    return Generator, Discriminator


def build_generator(spec: DCGANSpec | None = None, *, init: bool = True) -> Any:
    """The generator of ``spec`` (default: the tutorial's), weights from `weights_init`."""
    net = _classes()[0](spec or DCGANSpec())
    if init:
        net.apply(weights_init)
    return net


def build_discriminator(spec: DCGANSpec | None = None, *, init: bool = True) -> Any:
    """The discriminator of ``spec`` (default: the tutorial's), weights from `weights_init`."""
    net = _classes()[1](spec or DCGANSpec())
    if init:
        net.apply(weights_init)
    return net


def class_index(classes: tuple[str, ...], value: str, what: str) -> int:
    """Index of ``value`` in ``classes`` (case-insensitive), or an error listing the choices."""
    lowered = {c.lower(): i for i, c in enumerate(classes)}
    i = lowered.get(value.strip().lower())
    if i is None:
        raise InvalidInputError(f"unknown {what} {value!r}; the model knows {', '.join(classes)}")
    return i


# ------------------------------------------------------------------------------ conditions, inference

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "shipped"
SHIPPED_WEIGHTS = SHIPPED_DIR / "dcgan_cond.products.pt"
SHIPPED_CARD = SHIPPED_DIR / "dcgan_cond.products.json"
WEIGHTS_FORMAT = "fashionlens-dcgan/1"
TRAIN_COMMAND = "fashionlens train gan --data products --conditional label+colour (see the model card)"


def sample_conditions(
    spec: DCGANSpec,
    joint_counts: np.ndarray | None,
    n: int,
    *,
    label: str | None = None,
    colour: str | None = None,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Class indices per attribute for ``n`` samples (``spec.attributes`` order).

    A given ``label`` / ``colour`` is used for every sample; a missing one is drawn from the
    training set's frequencies ``joint_counts (n_labels, n_colours)``, conditioned on the given
    one (``--label Tshirts`` draws the colours T-shirts come in), uniform without counts.
    """
    if label is not None and not spec.labels:
        raise InvalidInputError("this generator is not conditioned on article type (no --label)")
    if colour is not None and not spec.colours:
        raise InvalidInputError("this generator is not conditioned on colour (no --colour)")
    nl, nc = max(1, len(spec.labels)), max(1, len(spec.colours))
    joint = (
        np.ones((nl, nc)) if joint_counts is None else np.asarray(joint_counts, np.float64).reshape(nl, nc)
    )
    joint = joint + 1e-9
    li = class_index(spec.labels, label, "label") if label is not None else None
    ci = class_index(spec.colours, colour, "colour") if colour is not None else None
    if li is None and ci is None:
        flat = rng.choice(nl * nc, size=n, p=(joint / joint.sum()).ravel())
        ls, cs = flat // nc, flat % nc
    elif li is None:
        p = joint[:, ci] / joint[:, ci].sum()
        ls, cs = rng.choice(nl, size=n, p=p), np.full(n, ci)
    elif ci is None:
        p = joint[li] / joint[li].sum()
        ls, cs = np.full(n, li), rng.choice(nc, size=n, p=p)
    else:
        ls, cs = np.full(n, li), np.full(n, ci)
    out = []
    if spec.labels:
        out.append(ls.astype(np.int64))
    if spec.colours:
        out.append(cs.astype(np.int64))
    return out


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between two latent vectors (White 2016), linear when parallel."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = float(np.clip(np.dot(a / max(na, 1e-12), b / max(nb, 1e-12)), -1.0, 1.0))
    omega = np.arccos(cos)
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


class DCGANGenerator:
    """A trained generator, ready to sample. Construct cheaply; `setup()` loads the weights.

    ``weights``: ``"shipped"`` (``models/shipped/dcgan_cond.products.pt``), an exported generator
    file (`fashionlens.training.gan.export_generator`) or a training checkpoint (``last.pt``).
    Both are read with ``torch.load(weights_only=True)``.
    """

    def __init__(
        self, weights: str | Path = "shipped", *, device: str = "cpu", num_threads: int | None = None
    ):
        self.weights = weights
        self.device = device
        self.num_threads = num_threads
        self.spec: DCGANSpec | None = None
        self.joint_counts: np.ndarray | None = None
        self.meta: dict[str, Any] = {}
        self._net: Any = None

    def _path(self) -> Path:
        return shipped_or_file(
            self.weights, what="DCGAN", shipped=SHIPPED_WEIGHTS.name, produce=TRAIN_COMMAND
        )

    def setup(self) -> None:
        if self._net is not None:
            return
        torch = require("torch")
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        path = self._path()
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise InvalidInputError(f"{path}: not a loadable DCGAN file ({type(exc).__name__})") from exc
        if not isinstance(raw, dict) or "spec" not in raw or not ({"generator", "G"} & set(raw)):
            raise InvalidInputError(f"{path}: not a DCGAN generator file (no 'spec' and 'generator' entries)")
        try:
            self.spec = DCGANSpec.from_dict(dict(raw["spec"]))
            state = raw["generator"] if "generator" in raw else raw["G"]
            net = build_generator(self.spec, init=False)
            net.load_state_dict({k: v.float() for k, v in state.items()})
        except InvalidInputError:
            raise
        except Exception as exc:
            raise InvalidInputError(
                f"{path}: generator weights do not fit its spec ({str(exc).splitlines()[0]})"
            ) from exc
        counts = raw.get("joint_counts")
        self.joint_counts = None if counts is None else np.asarray(counts, np.float64)
        self.meta = {k: v for k, v in raw.items() if isinstance(v, str | int | float)}
        self._net = net.eval().to(self.device)
        logger.info("loaded DCGAN generator %s from %s", self.spec.to_json(), path)

    @property
    def net(self) -> Any:
        self.setup()
        return self._net

    @property
    def loaded_spec(self) -> DCGANSpec:
        """The spec of the loaded generator (loads it)."""
        self.setup()
        if self.spec is None:
            raise NotReadyError("DCGAN generator not loaded")
        return self.spec

    def _run(self, z: np.ndarray, conditions: list[np.ndarray]) -> np.ndarray:
        import torch

        from fashionlens.render.gan import to_uint8

        with torch.inference_mode():
            zt = torch.from_numpy(z.astype(np.float32)).to(self.device)
            cs = [torch.from_numpy(c).to(self.device) for c in conditions]
            return to_uint8(self.net(zt, *cs))

    def generate(
        self, n: int = 64, *, label: str | None = None, colour: str | None = None, seed: int = 0
    ) -> tuple[np.ndarray, list[tuple[str, ...]]]:
        """``n`` images ``uint8 (n, 64, 64, 3)`` and each one's condition names (empty if unconditional)."""
        if n < 1:
            raise InvalidInputError(f"n must be >= 1; got {n}")
        spec = self.loaded_spec
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, spec.nz))
        conds = sample_conditions(spec, self.joint_counts, n, label=label, colour=colour, rng=rng)
        names = [
            tuple(classes[c[i]] for (_, classes), c in zip(spec.attributes, conds, strict=True))
            for i in range(n)
        ]
        return self._run(z, conds), names

    def interpolate(
        self, steps: int = 10, *, label: str | None = None, colour: str | None = None, seed: int = 0
    ) -> np.ndarray:
        """A latent walk: ``steps`` images from one random ``z`` to another (slerp), same condition."""
        if steps < 2:
            raise InvalidInputError(f"an interpolation needs >= 2 steps; got {steps}")
        spec = self.loaded_spec
        rng = np.random.default_rng(seed)
        a, b = rng.standard_normal((2, spec.nz))
        z = np.stack([slerp(a, b, t) for t in np.linspace(0.0, 1.0, steps)])
        conds = sample_conditions(spec, self.joint_counts, 1, label=label, colour=colour, rng=rng)
        return self._run(z, [np.repeat(c, steps) for c in conds])
