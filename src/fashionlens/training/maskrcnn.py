"""Train and evaluate Mask R-CNN garment segmenters on COCO instance files.

`CocoInstanceDataset` reads any COCO instances json whose categories are ModaNet's (ModaNet,
CCP converted by `fashionlens.ingest.ccp_coco`) or another scheme of ``label_maps.json``
(DeepFashion2, Fashionpedia...: mapped to the 13 ModaNet classes, unmapped categories dropped).
It yields ``(image float (3, h, w) in [0, 1], {"boxes" xyxy, "labels" 1..13, "masks" uint8 (n, h, w)})``
already resized to the model's ``min_size``/``max_size`` (so full-size masks never reach the model),
with optional consistent augmentation: horizontal flip, small rotation, colour jitter (boxes are
recomputed from the transformed masks).

`train_maskrcnn` checkpoints ``{"model", "optimizer", "scheduler", "epoch", "config", "history"}``
after every epoch (``epoch`` = epochs completed) and resumes from one. `evaluate_maskrcnn` reports
COCO box/mask AP and AP50 (pycocotools ``COCOeval``) and images/s.

Reproduce the CCP run (CPU, 1 torch thread, ~55 min on a shared 2-core machine)::

    python -c "from fashionlens.ingest.ccp_coco import write_ccp_coco; \
write_ccp_coco('../shared/data/ccp', 'runs/ccp_coco')"
    python -m fashionlens.training.maskrcnn --train-json runs/ccp_coco/train/_annotations.coco.json \
        --out runs/maskrcnn_ccp_mnv2.pt --arch maskrcnn_mobilenet_v2_fpn --epochs 3 --fraction 0.75 \
        --batch-size 2 --lr 0.01 --optimizer sgd --min-size 320 --max-size 512 --num-threads 1 --seed 0
    python -m fashionlens.training.maskrcnn --eval-only --out runs/maskrcnn_ccp_mnv2.pt \
        --eval-json runs/ccp_coco/test/_annotations.coco.json --num-threads 1
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, require
from fashionlens.core.labels import guess_label_scheme, label_maps, modanet_categories
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.ingest.images import open_rgb
from fashionlens.training.kit import save_checkpoint, warmup_cosine

logger = logging.getLogger(__name__)


def category_mapping(categories: Sequence[dict[str, Any]]) -> dict[int, int]:
    """COCO category id -> Mask R-CNN label (ModaNet index + 1); categories with no ModaNet class left out."""
    names = [str(c["name"]) for c in categories]
    modanet = {name: i + 1 for i, name in enumerate(modanet_categories())}
    scheme = guess_label_scheme(names)
    if scheme is None:
        raise InvalidInputError(f"categories {names[:8]} match no label scheme of label_maps.json")
    mapping: dict[str, object] = label_maps()[f"{scheme}_to_modanet"]  # type: ignore[assignment]
    out = {}
    for cat in categories:
        target = mapping.get(str(cat["name"]))
        if isinstance(target, str) and target in modanet:
            out[int(cat["id"])] = modanet[target]
    if not out:
        raise InvalidInputError(f"none of the categories {names} maps to a ModaNet class")
    return out


def resized_hw(h: int, w: int, min_size: int, max_size: int) -> tuple[int, int]:
    """``GeneralizedRCNNTransform``'s size rule: short side ``min_size``, long side at most ``max_size``."""
    scale = min(min_size / min(h, w), max_size / max(h, w))
    return max(1, math.floor(h * scale)), max(1, math.floor(w * scale))


def load_coco(coco_json: Path, images_root: Path | None = None) -> tuple[dict[str, Any], Path]:
    """The json and the folder its ``file_name``s are relative to (``images_root``, else the json's
    folder when the first image is there, else its ``image_root`` key)."""
    from fashionlens.ingest.coco import load_coco_json

    coco_json = Path(coco_json)
    coco = load_coco_json(coco_json)
    if images_root is None:
        images_root = coco_json.parent
        first = coco["images"][0]["file_name"] if coco.get("images") else None
        if first and not (images_root / first).is_file() and coco.get("image_root"):
            images_root = Path(coco["image_root"])
    return coco, Path(images_root)


class CocoInstanceDataset:
    """A map-style torch dataset over a COCO instances json (see module doc)."""

    def __init__(
        self,
        coco_json: Path,
        images_root: Path | None = None,
        *,
        min_size: int = 352,
        max_size: int = 544,
        augment: bool = False,
        fraction: float = 1.0,
        seed: int = 0,
        rotate_deg: float = 10.0,
        limit: int | None = None,
    ) -> None:
        if not 0.0 < fraction <= 1.0:
            raise InvalidInputError(f"fraction must be in (0, 1]; got {fraction}")
        self.coco, self.images_root = load_coco(coco_json, images_root)
        self.label_of = category_mapping(self.coco["categories"])
        by_image: dict[Any, list[dict[str, Any]]] = {img["id"]: [] for img in self.coco["images"]}
        for ann in self.coco["annotations"]:
            if (
                ann["category_id"] in self.label_of
                and not ann.get("iscrowd", 0)
                and ann["image_id"] in by_image
            ):
                by_image[ann["image_id"]].append(ann)
        images = list(self.coco["images"])
        if fraction < 1.0:
            n = max(1, round(fraction * len(images)))
            keep = np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))
            images = [images[i] for i in keep]
        if limit is not None:
            images = images[:limit]
        self.images = images
        self.anns = by_image
        self.min_size, self.max_size = min_size, max_size
        self.augment, self.rotate_deg = augment, rotate_deg
        self._rng = np.random.default_rng(seed)
        self._jitter: Any = None

    def __len__(self) -> int:
        return len(self.images)

    def load(self, index: int) -> tuple[Any, np.ndarray, np.ndarray]:
        """``(PIL RGB image, masks bool (n, H, W), labels int64 (n,))`` at full size, no augmentation."""

        from fashionlens.ingest.ccp_coco import annotation_mask

        info = self.images[index]
        # the stored pixels, as the COCO masks are drawn on them (no EXIF rotation)
        image = open_rgb(self.images_root / info["file_name"], exif=False)
        w, h = image.size
        anns = self.anns[info["id"]]
        masks = np.zeros((len(anns), h, w), dtype=bool)
        for k, ann in enumerate(anns):
            if ann.get("segmentation"):
                masks[k] = annotation_mask(ann, h, w)
            else:  # a box-only annotation: its box is the mask
                x, y, bw, bh = (round(v) for v in ann["bbox"])
                masks[k, y : y + bh, x : x + bw] = True
        labels = np.array([self.label_of[a["category_id"]] for a in anns], dtype=np.int64)
        return image, masks, labels

    def __getitem__(self, index: int) -> tuple[Any, dict[str, Any]]:
        import torch
        from PIL import Image

        image, masks, labels = self.load(index)
        h, w = resized_hw(image.height, image.width, self.min_size, self.max_size)
        image = image.resize((w, h), Image.Resampling.BILINEAR)
        pil_masks = [
            Image.fromarray(m.astype(np.uint8) * 255).resize((w, h), Image.Resampling.NEAREST) for m in masks
        ]
        if self.augment:
            rng = self._rng
            if rng.random() < 0.5:
                image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                pil_masks = [m.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for m in pil_masks]
            if self.rotate_deg > 0:
                angle = float(rng.uniform(-self.rotate_deg, self.rotate_deg))
                image = image.rotate(angle, Image.Resampling.BILINEAR, fillcolor=(124, 116, 104))
                pil_masks = [m.rotate(angle, Image.Resampling.NEAREST) for m in pil_masks]
            if self._jitter is None:
                from torchvision.transforms import ColorJitter

                self._jitter = ColorJitter(0.3, 0.3, 0.3, 0.03)
            image = self._jitter(image)
        arr = np.stack([np.asarray(m) > 127 for m in pil_masks]) if pil_masks else np.zeros((0, h, w), bool)
        keep = arr.reshape(len(arr), -1).sum(1) >= 4 if len(arr) else np.zeros(0, bool)
        arr, labels = arr[keep], labels[keep]
        boxes = np.zeros((len(arr), 4), dtype=np.float32)
        for k, m in enumerate(arr):
            ys, xs = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
            boxes[k] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
        tensor = (
            torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255.0)
        )
        target = {
            "boxes": torch.from_numpy(boxes),
            "labels": torch.from_numpy(labels),
            "masks": torch.from_numpy(arr.astype(np.uint8)),
            "image_id": int(self.images[index]["id"]),
        }
        return tensor, target


def collate(batch: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(zip(*batch, strict=True))


def _loader(ds: Any, batch_size: int, seed: int, epoch: int, workers: int) -> Any:
    import torch

    gen = torch.Generator().manual_seed(seed * 1000 + epoch)
    return torch.utils.data.DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=True,
        collate_fn=collate,
        generator=gen,
        num_workers=workers,
        persistent_workers=False,
    )


def _save(path: Path, state: dict[str, Any]) -> None:
    save_checkpoint(path, state)


def train_maskrcnn(
    train_json: Path,
    out_path: Path,
    *,
    arch: str = "maskrcnn_mobilenet_v2_fpn",
    epochs: int = 4,
    fraction: float = 1.0,
    batch_size: int = 2,
    lr: float = 0.01,
    min_size: int = 352,
    max_size: int = 544,
    resume: Path | None = None,
    eval_json: Path | None = None,
    num_threads: int | None = None,
    seed: int = 0,
    progress: Progress = NO_PROGRESS,
    optimizer: str = "sgd",
    weights: str | Path | None = "pretrained",
    images_root: Path | None = None,
    eval_limit: int | None = None,
    max_iters: int | None = None,
    augment: bool = True,
    workers: int = 0,
    encoder: str | Path | None = None,
) -> dict[str, Any]:
    """Train ``arch`` on ``train_json``; write a checkpoint to ``out_path`` after every epoch.

    ``weights="pretrained"`` starts from COCO (resnet50 v2) / ImageNet (mobilenet backbone); None is
    a random init. ``encoder="unet"`` (or a U-Net weights file) then starts the MobileNetV2 blocks
    0..17 from that U-Net's encoder (`init_encoder_from_unet`). ``resume``: a checkpoint to continue
    (model, optimizer, LR schedule; training goes on at its next epoch). LR: linear warm-up over
    100 iterations, then cosine to 0. ``max_iters`` caps
    iterations per epoch (smoke tests).
    ``progress`` gets ``start(epochs x iterations)`` and one ``advance`` per iteration. Returns a report.
    """
    torch = require("torch")
    from fashionlens.models.segmenters.maskrcnn import build_maskrcnn, load_checkpoint

    if optimizer not in ("sgd", "adamw"):
        raise InvalidInputError(f"optimizer must be sgd or adamw; got {optimizer!r}")
    if num_threads:
        torch.set_num_threads(num_threads)
    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    config: dict[str, Any] = {
        "arch": arch,
        "num_classes": len(modanet_categories()) + 1,
        "min_size": min_size,
        "max_size": max_size,
        "epochs": epochs,
        "fraction": fraction,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "seed": seed,
        "train_json": str(train_json),
        "weights": None if weights is None else str(weights),
        "encoder": None if encoder is None else str(encoder),
    }
    ckpt = load_checkpoint(resume) if resume is not None else None
    if ckpt is not None:
        old = ckpt["config"]
        if (old["arch"], old["min_size"], old["max_size"]) != (arch, min_size, max_size):
            raise InvalidInputError(
                f"{resume}: checkpoint is {old['arch']} {old['min_size']}/{old['max_size']}"
            )
    init: str | Path | None = None
    if ckpt is None and weights is not None:
        init = ("coco" if "resnet50" in arch else "imagenet") if weights == "pretrained" else weights
    model = build_maskrcnn(
        arch,
        config["num_classes"],
        weights=init,
        min_size=min_size,
        max_size=max_size,
        encoder=encoder if ckpt is None else None,
    )
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
    model.to(device).train()
    ds = CocoInstanceDataset(
        train_json,
        images_root,
        min_size=min_size,
        max_size=max_size,
        augment=augment,
        fraction=fraction,
        seed=seed,
    )
    iters = math.ceil(len(ds) / batch_size)
    if max_iters is not None:
        iters = min(iters, max_iters)
    total = max(1, iters * epochs)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (
        torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
        if optimizer == "sgd"
        else torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    )
    warm = min(100, total // 4 + 1)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(warm, total, warmup_start=0.001))
    start, history = 0, []
    if ckpt is not None:
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        start, history = int(ckpt["epoch"]), list(ckpt.get("history", []))
    use_amp = device == "cuda"
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    logger.info(
        "training %s on %d images, %d iters/epoch, epochs %d..%d", arch, len(ds), iters, start + 1, epochs
    )
    t_start, n_iter = time.perf_counter(), 0
    progress.start(iters * (epochs - start), "train Mask R-CNN (iterations)")
    for epoch in range(start, epochs):
        t0, n = time.perf_counter(), 0
        sums: dict[str, float] = {}
        for i, (images, targets) in enumerate(_loader(ds, batch_size, seed, epoch, workers)):
            if i >= iters:
                break
            images = [im.to(device) for im in images]
            targets = [{k: (v.to(device) if hasattr(v, "to") else v) for k, v in t.items()} for t in targets]
            with torch.autocast("cuda", enabled=use_amp) if use_amp else contextlib.nullcontext():
                losses = model(images, targets)
                loss = sum(losses.values())
            if not torch.isfinite(loss):
                raise FloatingPointError(f"epoch {epoch + 1} iter {i}: loss is {loss.item()}")
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            sched.step()
            n += 1
            n_iter += 1
            vals = {k: float(v.item()) for k, v in losses.items()}
            for k, v in vals.items():
                sums[k] = sums.get(k, 0.0) + v
            progress.advance(1)
            if (i + 1) % 20 == 0 or i + 1 == iters:
                rate = (time.perf_counter() - t0) / n
                logger.info(
                    "epoch %d iter %d/%d loss %.3f (%s) lr %.4g %.2f s/iter",
                    epoch + 1,
                    i + 1,
                    iters,
                    loss.item(),
                    " ".join(f"{k[5:]} {v:.3f}" for k, v in vals.items()),
                    opt.param_groups[0]["lr"],
                    rate,
                )
        record = {"epoch": epoch + 1, "iters": n, "seconds": time.perf_counter() - t0}
        record.update({k: v / max(1, n) for k, v in sums.items()})
        history.append(record)
        state = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "epoch": epoch + 1,
            "config": config,
            "history": history,
        }
        _save(Path(out_path), state)
        logger.info("epoch %d done in %.0f s; checkpoint %s", epoch + 1, record["seconds"], out_path)
    report: dict[str, Any] = {
        "checkpoint": str(out_path),
        "config": config,
        "start_epoch": start,
        "epochs_run": epochs - start,
        "iterations": n_iter,
        "train_seconds": time.perf_counter() - t_start,
        "train_images": len(ds),
        "history": history,
    }
    if eval_json is not None:
        from fashionlens.models.segmenters.maskrcnn import MaskRCNNSegmenter

        seg = MaskRCNNSegmenter.from_model(model, config, score_threshold=0.05)
        from fashionlens.analysis.coco_metrics import evaluate_maskrcnn

        report["eval"] = evaluate_maskrcnn(seg, eval_json, None, limit=eval_limit)
        model.train()
    return report
