"""Train a DCGAN the way the PyTorch DCGAN tutorial (and seed 002) does, measured as it goes.

Data (`load_gan_data`), every image 64x64 uint8:

- ``products``: the catalogue (``styles.csv`` + ``images/<id>.jpg``), each photo padded to a
  square on white and resized to 256x256 (seed 002's preprocessing), then to 64x64. Conditions:
  ``articleType`` (the ``top_labels`` most frequent in training, the rest ``other``) and the
  colour group of ``baseColour``.
- ``fashion-mnist``: the idx files (train split for training, t10k held out), grey 28 -> 64;
  condition: the class.
- any folder of images: every image under it, square on white; condition: the first sub-folder.

A fixed, seeded held-out set is never trained on (`held_out_mask`: crc32 of the product id /
file path; Fashion-MNIST's test split). Training is the tutorial's: Adam (lr 2e-4, beta1 0.5),
batch 128, BCE, D on a real and a fake batch, then G towards D's "real". Each epoch writes
``checkpoints/last.pt`` (`fashionlens.training.kit.save_checkpoint`; ``resume`` continues from it,
its config checked), ``samples/epoch_NNN.png`` from one fixed noise batch, ``losses.png`` (G and D
loss per iteration) and, with ``kid_n > 0``, the KID of ``kid_n`` samples against as many held-out
images on the backbone's features (``history.json``). The end exports the generator as fp16
(`export_generator`).
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, NotReadyError
from fashionlens.core.labels import colour_group, colour_names
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.ingest.images import DEFAULT_LIMITS, ImageLimits, open_rgb, to_rgb
from fashionlens.training.kit import load_checkpoint, resolve_device, save_checkpoint, torch_threads

logger = logging.getLogger(__name__)

CONDITIONALS = ("none", "label", "colour", "label+colour")
MUST_MATCH = (
    "data",
    "data_root",
    "batch_size",
    "lr",
    "beta1",
    "nz",
    "ngf",
    "ndf",
    "conditional",
    "top_labels",
    "holdout_fraction",
    "max_images",
    "seed",
)
SEED_PAD_SIZE = 256  # seed 002: catalogue images to 256x256 with white borders, then 64x64
IMAGE_SIZE = 64
OTHER = "other"


@dataclass
class GANConfig:
    data: str = "products"  # products | fashion-mnist | a folder of images
    data_root: str | None = None  # the catalogue / idx folder for products / fashion-mnist
    out_dir: Path = Path("gan")
    epochs: int = 25
    batch_size: int = 128
    lr: float = 2e-4
    beta1: float = 0.5
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    conditional: str = "none"  # none | label | colour | label+colour
    top_labels: int = 15
    holdout_fraction: float = 0.1
    max_images: int | None = None  # first N images of the source (tests, quick runs)
    seed: int = 0
    threads: int = 1
    device: str = "cpu"
    kid_n: int = 256  # held-out images for the per-epoch KID; 0 turns it off
    backbone: str = "mobilenet_v2.imagenet"
    resume: bool = False
    limits: ImageLimits = field(default_factory=lambda: DEFAULT_LIMITS)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        if self.conditional not in CONDITIONALS:
            raise InvalidInputError(
                f"conditional must be one of {', '.join(CONDITIONALS)}; got {self.conditional!r}"
            )
        if self.epochs < 1 or self.batch_size < 2 or self.lr <= 0 or not 0 <= self.beta1 < 1:
            raise InvalidInputError(
                f"need epochs >= 1, batch_size >= 2, lr > 0, 0 <= beta1 < 1; got {self.epochs}, "
                f"{self.batch_size}, {self.lr}, {self.beta1}"
            )
        if not 0 < self.holdout_fraction < 1:
            raise InvalidInputError(f"holdout_fraction must be in (0, 1); got {self.holdout_fraction}")
        if self.max_images is not None and self.max_images < 4:
            raise InvalidInputError(f"max_images must be >= 4; got {self.max_images}")
        if self.kid_n < 0 or self.top_labels < 1 or self.threads < 0:
            raise InvalidInputError("kid_n and threads must be >= 0, top_labels >= 1")


# -------------------------------------------------------------------------------------------- data


@dataclass
class GANData:
    """Images ``uint8 (N, 64, 64, C)`` with per-image keys, raw label and colour, held-out flags."""

    images: np.ndarray
    keys: list[str]
    labels: list[str]
    colours: list[str]
    held_out: np.ndarray
    source: str

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[1:3] != (64, 64):
            raise InvalidInputError(
                f"GAN images must be uint8 (N, 64, 64, C); got {self.images.dtype} {self.images.shape}"
            )
        if not (len(self.keys) == len(self.labels) == len(self.colours) == len(self.held_out) == n):
            raise InvalidInputError("GAN data: images, keys, labels, colours and held_out differ in length")
        self.held_out = np.asarray(self.held_out, bool)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def train_idx(self) -> np.ndarray:
        return np.flatnonzero(~self.held_out)

    @property
    def heldout_idx(self) -> np.ndarray:
        return np.flatnonzero(self.held_out)


def held_out_mask(keys: Sequence[str], fraction: float) -> np.ndarray:
    """Deterministic held-out flags: ``crc32(key) mod 10000 < fraction * 10000``."""
    cut = round(fraction * 10000)
    return np.array([zlib.crc32(str(k).encode()) % 10000 < cut for k in keys], dtype=bool)


def catalogue_square(image: Any, size: int = SEED_PAD_SIZE) -> Any:
    """Seed 002's preprocessing: fit into ``size`` x ``size`` keeping the aspect, white borders."""
    from PIL import Image

    im = to_rgb(image)
    scale = size / max(im.width, im.height)
    w, h = max(1, round(im.width * scale)), max(1, round(im.height * scale))
    im = im.resize((w, h), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    canvas.paste(im, ((size - w) // 2, (size - h) // 2))
    return canvas


def to_training_image(image: Any, *, grey: bool = False) -> np.ndarray:
    """Any image -> ``uint8 (64, 64, 3)`` (``(64, 64, 1)`` with ``grey``) the way training sees it."""
    from PIL import Image

    im = catalogue_square(image).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    if grey:
        return np.asarray(im.convert("L"), np.uint8)[:, :, None]
    return np.asarray(im, np.uint8)


def _load_products(root: Path, config: GANConfig, progress: Progress) -> GANData:
    from fashionlens.ingest.products import read_styles_csv

    rows = read_styles_csv(root / "styles.csv")
    if config.max_images:
        rows = rows[: config.max_images]
    progress.start(len(rows), "load products")
    images, keys, labels, colours = [], [], [], []
    skipped = 0
    for row in rows:
        path = root / "images" / f"{row['id']}.jpg"
        try:
            images.append(to_training_image(open_rgb(path, config.limits)))
        except InvalidInputError as exc:
            logger.warning("skipping %s", exc)
            skipped += 1
            progress.advance(1)
            continue
        keys.append(str(row["id"]))
        labels.append(row.get("articleType", "") or OTHER)
        colours.append(colour_group(row.get("baseColour", "")) or OTHER)
        progress.advance(1)
    if not images:
        raise InvalidInputError(f"{root}: no readable product images under images/")
    if skipped:
        logger.warning("%s: %d product image(s) skipped", root, skipped)
    return GANData(
        np.stack(images), keys, labels, colours, held_out_mask(keys, config.holdout_fraction), "products"
    )


def _load_fashion_mnist(root: Path | None, config: GANConfig, progress: Progress) -> GANData:
    from PIL import Image

    from fashionlens.ingest.fashion_mnist import (
        INSTALL_HINT,
        fashion_mnist_classes,
        find_fashion_mnist,
        read_idx,
    )

    folder = find_fashion_mnist([root] if root else None)
    if folder is None:
        raise InvalidInputError(
            f"Fashion-MNIST idx files not found{f' in {root}' if root else ''}; {INSTALL_HINT}"
        )
    classes = fashion_mnist_classes()
    parts = []
    for prefix, held in (("train", False), ("t10k", True)):
        stem = folder / f"{prefix}-images-idx3-ubyte"
        lab = folder / f"{prefix}-labels-idx1-ubyte"
        x = read_idx(
            stem.with_name(stem.name + ".gz") if stem.with_name(stem.name + ".gz").is_file() else stem
        )
        y = read_idx(lab.with_name(lab.name + ".gz") if lab.with_name(lab.name + ".gz").is_file() else lab)
        n = (
            len(x)
            if not config.max_images
            else min(len(x), config.max_images if not held else max(2, config.max_images // 6))
        )
        parts.append((prefix, x[:n], y[:n], held))
    progress.start(sum(len(p[1]) for p in parts), "load fashion-mnist")
    images, keys, labels, held_out = [], [], [], []
    for prefix, x, y, held in parts:
        for i in range(len(x)):
            big = Image.fromarray(x[i]).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
            images.append(np.asarray(big, np.uint8)[:, :, None])
            keys.append(f"{prefix}/{i}")
            labels.append(classes[int(y[i])])
            held_out.append(held)
        progress.advance(len(x))
    return GANData(np.stack(images), keys, labels, [OTHER] * len(keys), np.array(held_out), "fashion-mnist")


def _load_folder(root: Path, config: GANConfig, progress: Progress) -> GANData:
    from fashionlens.ingest.folder import find_images

    if not root.is_dir():
        raise InvalidInputError(f"{root}: not a folder of images (nor 'products' or 'fashion-mnist')")
    paths = find_images(root)
    if config.max_images:
        paths = paths[: config.max_images]
    if not paths:
        raise InvalidInputError(f"{root}: no image files")
    progress.start(len(paths), f"load {root.name}")
    images, keys, labels = [], [], []
    for path in paths:
        try:
            images.append(to_training_image(open_rgb(path, config.limits)))
        except InvalidInputError as exc:
            logger.warning("skipping %s", exc)
            progress.advance(1)
            continue
        rel = path.relative_to(root)
        keys.append(rel.as_posix())
        labels.append(rel.parts[0] if len(rel.parts) > 1 else OTHER)
        progress.advance(1)
    if len(images) < 4:
        raise InvalidInputError(f"{root}: need >= 4 readable images; got {len(images)}")
    return GANData(
        np.stack(images),
        keys,
        labels,
        [OTHER] * len(keys),
        held_out_mask(keys, config.holdout_fraction),
        "folder",
    )


def load_gan_data(config: GANConfig, progress: Progress = NO_PROGRESS) -> GANData:
    """The images ``config.data`` names (see the module doc)."""
    if config.data == "products":
        if not config.data_root:
            raise InvalidInputError(
                "data products: give the catalogue folder (styles.csv + images/) as data_root"
            )
        return _load_products(Path(config.data_root), config, progress)
    if config.data == "fashion-mnist":
        return _load_fashion_mnist(Path(config.data_root) if config.data_root else None, config, progress)
    return _load_folder(Path(config.data), config, progress)


# ------------------------------------------------------------------------------------- conditions


def condition_classes(data: GANData, config: GANConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The label and colour classes the conditional model learns (from training images only)."""
    labels: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    train = data.train_idx
    if "label" in config.conditional:
        counts = Counter(data.labels[i] for i in train if data.labels[i] != OTHER)
        top = [
            name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: config.top_labels]
        ]
        rest = any(data.labels[i] not in top for i in train)
        labels = tuple(top) + ((OTHER,) if rest or not top else ())
    if "colour" in config.conditional:
        if data.source != "products":
            raise InvalidInputError(
                f"conditional {config.conditional!r}: only the products catalogue has colours"
            )
        present = {data.colours[i] for i in train}
        colours = tuple(c for c in colour_names() if c in present) + ((OTHER,) if OTHER in present else ())
    return labels, colours


def encode(values: Sequence[str], classes: tuple[str, ...], unknown: int | None = None) -> np.ndarray:
    """Class index per value; a value outside ``classes`` is ``other`` (or ``unknown``, if given)."""
    index = {c: i for i, c in enumerate(classes)}
    fallback = index.get(OTHER, unknown)
    out = np.empty(len(values), np.int64)
    for i, v in enumerate(values):
        j = index.get(v, fallback)
        if j is None:
            raise InvalidInputError(f"value {v!r} is not one of {', '.join(classes)}")
        out[i] = j
    return out


def joint_counts(
    labels: np.ndarray | None, colours: np.ndarray | None, n_labels: int, n_colours: int
) -> np.ndarray:
    """Training counts ``(n_labels, n_colours)`` (1 x 1 / n x 1 / 1 x n when unconditioned)."""
    n = len(labels) if labels is not None else len(colours) if colours is not None else 0
    li = labels if labels is not None else np.zeros(n, np.int64)
    ci = colours if colours is not None else np.zeros(n, np.int64)
    out = np.zeros((max(1, n_labels), max(1, n_colours)), np.int64)
    np.add.at(out, (li, ci), 1)
    return out


# ----------------------------------------------------------------------------------------- training


@dataclass
class GANReport:
    epochs_run: int
    n_train: int
    n_heldout: int
    seconds: float
    checkpoint: Path
    generator_path: Path
    kid_curve: list[tuple[int, float]]
    final_losses: tuple[float, float]
    samples_dir: Path


def _batch_tensor(images: np.ndarray, device: str) -> Any:
    import torch

    x = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def train_gan(
    config: GANConfig, progress: Progress = NO_PROGRESS, *, data: GANData | None = None
) -> GANReport:
    """Train (or, with ``config.resume``, continue) the DCGAN of ``config``; see the module doc."""
    import torch

    from fashionlens.models.generators.dcgan import (
        DCGANSpec,
        build_discriminator,
        build_generator,
        sample_conditions,
    )
    from fashionlens.render.gan import image_grid, labelled_grid, loss_plot, save_png, to_uint8

    device = resolve_device(config.device)
    out = config.out_dir
    ckpt_path = out / "checkpoints" / "last.pt"
    if not config.resume and ckpt_path.exists():
        raise InvalidInputError(f"{ckpt_path} exists: pass resume to continue it, or choose another out_dir")
    data = data if data is not None else load_gan_data(config, progress)
    train, held = data.train_idx, data.heldout_idx
    if len(train) < 2:
        raise InvalidInputError(f"GAN data: need >= 2 training images; got {len(train)}")
    labels, colours = condition_classes(data, config)
    spec = DCGANSpec(
        nz=config.nz, ngf=config.ngf, ndf=config.ndf, nc=data.images.shape[-1], labels=labels, colours=colours
    )
    label_idx = encode(data.labels, labels, unknown=0) if labels else None
    colour_idx = encode(data.colours, colours, unknown=0) if colours else None
    conds_all = [c for c in (label_idx, colour_idx) if c is not None]
    joint = joint_counts(
        None if label_idx is None else label_idx[train],
        None if colour_idx is None else colour_idx[train],
        len(labels),
        len(colours),
    )

    with torch_threads(config.threads):
        torch.manual_seed(config.seed)
        G, D = build_generator(spec).to(device), build_discriminator(spec).to(device)
        opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(config.beta1, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=(config.beta1, 0.999))
        criterion = torch.nn.BCELoss()
        state: dict[str, Any] = {"epoch": 0, "g_losses": [], "d_losses": [], "epochs": [], "seconds": 0.0}
        if config.resume and ckpt_path.exists():
            ck = load_checkpoint(ckpt_path, config, MUST_MATCH)
            G.load_state_dict(ck["G"])
            D.load_state_dict(ck["D"])
            opt_g.load_state_dict(ck["opt_G"])
            opt_d.load_state_dict(ck["opt_D"])
            torch.set_rng_state(ck["rng"])
            state = {k: ck[k] for k in state}
            logger.info("resumed %s at epoch %d", ckpt_path, state["epoch"])
        # one fixed noise batch (and fixed conditions) for every epoch's grid
        fixed_rng = np.random.default_rng(config.seed)
        n_grid = 64
        fixed_z = torch.from_numpy(fixed_rng.standard_normal((n_grid, spec.nz)).astype(np.float32)).to(device)
        grid_rows: list[str] = []
        fixed_c: list[np.ndarray] = []
        if spec.conditional:
            row_attr, row_classes = spec.attributes[0]
            for r in range(8):
                name = row_classes[r % len(row_classes)]
                kw = {row_attr: name}
                fixed_c.append(np.stack(sample_conditions(spec, joint, 8, rng=fixed_rng, **kw)))
                grid_rows.append(name)
            fixed_c = list(np.concatenate(fixed_c, axis=1))
        fixed_ct = [torch.from_numpy(c).to(device) for c in fixed_c]
        kid_eval = _KidEval(config, data, conds_all, spec.nz) if config.kid_n and len(held) >= 4 else None

        n_batches = int(np.ceil(len(train) / config.batch_size))
        start_epoch = int(state["epoch"])
        progress.start(max(0, config.epochs - start_epoch) * n_batches, "train gan (batches)")
        for epoch in range(start_epoch, config.epochs):
            t0 = time.perf_counter()
            G.train()
            D.train()
            perm = train[np.random.default_rng(config.seed * 100003 + epoch).permutation(len(train))]
            sums = np.zeros(5)
            for b in range(n_batches):
                idx = perm[b * config.batch_size : (b + 1) * config.batch_size]
                real = _batch_tensor(data.images[idx], device)
                cs = [torch.from_numpy(c[idx]).to(device) for c in conds_all]
                n = real.size(0)
                ones = torch.full((n,), 1.0, device=device)
                zeros = torch.full((n,), 0.0, device=device)
                # (1) D: maximise log D(x) + log(1 - D(G(z)))
                D.zero_grad()
                out_real = D(real, *cs)
                err_real = criterion(out_real, ones)
                err_real.backward()
                noise = torch.randn(n, spec.nz, 1, 1, device=device)
                fake = G(noise, *cs)
                out_fake = D(fake.detach(), *cs)
                err_fake = criterion(out_fake, zeros)
                err_fake.backward()
                opt_d.step()
                # (2) G: maximise log D(G(z))
                G.zero_grad()
                out_g = D(fake, *cs)
                err_g = criterion(out_g, ones)
                err_g.backward()
                opt_g.step()
                err_d = float(err_real.item() + err_fake.item())
                state["g_losses"].append(float(err_g.item()))
                state["d_losses"].append(err_d)
                sums += (
                    err_d,
                    float(err_g.item()),
                    out_real.mean().item(),
                    out_fake.mean().item(),
                    out_g.mean().item(),
                )
                progress.advance(1)
            seconds = time.perf_counter() - t0
            G.eval()
            with torch.no_grad():
                grid = to_uint8(G(fixed_z, *fixed_ct))
            samples = out / "samples" / f"epoch_{epoch + 1:03d}.png"
            if grid_rows:
                save_png(labelled_grid(grid, grid_rows, nrow=8, scale=2), samples)
            else:
                save_png(image_grid(grid, nrow=8), samples, scale=2)
            kid_value = kid_eval(G, device) if kid_eval else None
            mean = [float(v) for v in sums / n_batches]
            record = {
                "epoch": epoch + 1,
                "loss_d": round(mean[0], 4),
                "loss_g": round(mean[1], 4),
                "d_x": round(mean[2], 4),
                "d_g_z1": round(mean[3], 4),
                "d_g_z2": round(mean[4], 4),
                "seconds": round(seconds, 1),
                "kid": None if kid_value is None else round(float(kid_value), 5),
            }
            state["epochs"].append(record)
            state["epoch"] = epoch + 1
            state["seconds"] = float(state["seconds"]) + seconds
            save_checkpoint(
                ckpt_path,
                {
                    **state,
                    "G": G.state_dict(),
                    "D": D.state_dict(),
                    "opt_G": opt_g.state_dict(),
                    "opt_D": opt_d.state_dict(),
                    "rng": torch.get_rng_state(),
                    "spec": spec.to_dict(),
                    "joint_counts": joint.tolist(),
                },
                config,
            )
            loss_plot(state["g_losses"], state["d_losses"], out / "losses.png", iters_per_epoch=n_batches)
            (out / "history.json").write_text(json.dumps(state["epochs"], indent=1))
            logger.info("gan epoch %d/%d: %s", epoch + 1, config.epochs, record)

    gen_path = export_generator(ckpt_path, out / "generator.pt")
    curve = [(int(r["epoch"]), float(r["kid"])) for r in state["epochs"] if r.get("kid") is not None]
    last = state["epochs"][-1] if state["epochs"] else {"loss_g": float("nan"), "loss_d": float("nan")}
    return GANReport(
        epochs_run=int(state["epoch"]),
        n_train=len(train),
        n_heldout=len(held),
        seconds=float(state["seconds"]),
        checkpoint=ckpt_path,
        generator_path=gen_path,
        kid_curve=curve,
        final_losses=(float(last["loss_g"]), float(last["loss_d"])),
        samples_dir=out / "samples",
    )


class _KidEval:
    """KID of ``kid_n`` samples vs ``kid_n`` held-out images (fixed noise, the held-out conditions)."""

    def __init__(self, config: GANConfig, data: GANData, conds_all: list[np.ndarray], nz: int) -> None:
        from fashionlens.analysis.gan_metrics import BackboneFeatures

        held = data.heldout_idx
        pick = held[np.random.default_rng(config.seed + 1).permutation(len(held))[: config.kid_n]]
        self.features = BackboneFeatures(config.backbone)
        self.real = self.features(data.images[pick])
        self.conds = [c[pick] for c in conds_all]
        self.z = np.random.default_rng(config.seed + 2).standard_normal((len(pick), nz)).astype(np.float32)

    def __call__(self, G: Any, device: str) -> float:
        import torch

        from fashionlens.analysis.gan_metrics import UNIT_FEATURES_GAMMA, kid
        from fashionlens.render.gan import to_uint8

        with torch.no_grad():
            fake = np.concatenate(
                [
                    to_uint8(
                        G(
                            torch.from_numpy(self.z[i : i + 128]).to(device),
                            *[torch.from_numpy(c[i : i + 128]).to(device) for c in self.conds],
                        )
                    )
                    for i in range(0, len(self.z), 128)
                ]
            )
        fake_features = self.features(fake)
        size = min(len(self.real), 1000)
        return kid(self.real, fake_features, n_subsets=20, subset_size=size, gamma=UNIT_FEATURES_GAMMA).mean


def export_generator(checkpoint: Path, out: Path, *, extra: dict[str, Any] | None = None) -> Path:
    """The generator of a training checkpoint as an fp16 file (spec + weights + condition counts)."""
    import torch

    ck = load_checkpoint(checkpoint)
    if "G" not in ck or "spec" not in ck:
        raise NotReadyError(f"{checkpoint}: not a GAN training checkpoint (no generator)")
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in ck["G"].items()}
    payload = {
        "format": "fashionlens-dcgan/1",
        "spec": ck["spec"],
        "generator": state,
        "joint_counts": ck.get("joint_counts"),
        "epochs": int(ck.get("epoch", 0)),
        "data": str((ck.get("config") or {}).get("data", "")),
        **(extra or {}),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    torch.save(payload, tmp)
    tmp.replace(out)
    return out
