"""Fine-tune a CNN backbone end to end on the product catalogue's attributes.

The frozen recipe (`fashionlens.training.attributes`) fits heads on fixed ImageNet vectors. Here
the whole torchvision MobileNetV2 trains, with one linear head per attribute on its pooled
features, so the features themselves learn what separates ``Tshirts`` from ``Tops``:

* the same split as the frozen recipe (`load_attribute_data` + `stratified_split`, same seeds):
  the held-out test images are never seen, the validation images pick the best epoch;
* images decoded once (`fashionlens.ingest.images.open_rgb`), kept resized to the backbone's
  ``resize_size`` (uint8); training crops ``image_size`` at random with horizontal flips,
  evaluation takes the centre crop the backbone embeds at;
* AdamW, the heads at ``lr``, the backbone at ``backbone_lr``, one warm-up + cosine schedule
  (`fashionlens.training.kit.warmup_cosine`); square-root class weights and label smoothing as in
  the frozen recipe; a resumable ``last.pt`` per epoch (`kit.save_checkpoint`).

`finetune_backbone` writes the fine-tuned network as a torchvision ``mobilenet_v2`` state dict in
fp16 (``HOME/models/<weights_file of the target backbone>``, 7 MB) with a JSON card: the
registered backbone ``mobilenet_v2.products`` finds it there before the copy the package ships.
Its embeddings then feed the usual attribute classifier (``train attributes --backbone
mobilenet_v2.products``): `finetune_and_fit` runs the three steps.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, require
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.settings import Settings
from fashionlens.core.types import Skipped
from fashionlens.models.heads.attributes import class_weights, masked_loss
from fashionlens.store.catalog import Catalog
from fashionlens.training import kit
from fashionlens.training.attributes import (
    ATTRIBUTES,
    build_encoders,
    draw_split,
    load_attribute_data,
)

logger = logging.getLogger(__name__)

BASE = "mobilenet_v2.imagenet"
TARGET = "mobilenet_v2.products"
FINETUNE_FORMAT = "fashionlens-finetuned-backbone/1"


@dataclass(frozen=True)
class FinetuneOptions:
    base: str = BASE
    target: str = TARGET
    attributes: tuple[str, ...] = ATTRIBUTES
    epochs: int = 5
    image_size: int = 224  # training crop; evaluation uses the backbone's own centre crop
    batch_size: int = 32
    lr: float = 1e-3  # heads
    backbone_lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    label_smoothing: float = 0.1
    class_weight_power: float = 0.5
    dropout: float = 0.2
    min_class_count: int = 10
    test_size: float = 0.2
    val_size: float = 0.15
    seed: int = 0
    num_threads: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise InvalidInputError(
                f"need epochs >= 1 and batch_size >= 2; got {self.epochs}, {self.batch_size}"
            )
        if not 32 <= self.image_size <= 512:
            raise InvalidInputError(f"image_size must be in [32, 512]; got {self.image_size}")
        if self.lr <= 0 or self.backbone_lr < 0:
            raise InvalidInputError(f"learning rates must be > 0; got {self.lr}, {self.backbone_lr}")


# what a resumed run must share with the run that wrote last.pt
MUST_MATCH = (
    "base",
    "target",
    "attributes",
    "epochs",
    "image_size",
    "batch_size",
    "lr",
    "backbone_lr",
    "weight_decay",
    "warmup_fraction",
    "label_smoothing",
    "class_weight_power",
    "dropout",
    "min_class_count",
    "test_size",
    "val_size",
    "seed",
)


@dataclass
class FinetuneReport:
    weights_path: Path
    target: str
    n_train: int
    n_val: int
    n_test: int
    best_epoch: int
    epochs_run: int
    seconds: float
    test_accuracy: dict[str, float]  # the fine-tuned network's own linear heads, on the test split
    history: list[dict[str, Any]] = field(default_factory=list)
    skipped_images: list[Skipped] = field(default_factory=list)


def load_images(
    paths: Sequence[str], size: int, skipped: list[Skipped], progress: Progress = NO_PROGRESS
) -> tuple[np.ndarray, np.ndarray]:
    """``uint8 (N, size, size, 3)`` squares (shorter side resized to ``size``, centre-cropped) and
    a mask of the paths that decoded; a file that does not is listed in ``skipped``."""
    from PIL import Image

    from fashionlens.ingest.images import open_rgb

    out = np.zeros((len(paths), size, size, 3), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    progress.start(len(paths), "decode images")
    for i, path in enumerate(paths):
        try:
            image = open_rgb(path)
        except Exception as exc:  # InvalidInputError names the file and the problem
            skipped.append(Skipped(str(path), str(exc)))
            progress.advance(1)
            continue
        w, h = image.size
        scale = size / min(w, h)
        image = image.resize(
            (max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BILINEAR
        )
        w, h = image.size
        left, top = (w - size) // 2, (h - size) // 2
        out[i] = np.asarray(image.crop((left, top, left + size, top + size)))
        ok[i] = True
        progress.advance(1)
    return out, ok


def build_network(torchvision: Any, torch: Any, n_classes: dict[str, int], dropout: float) -> Any:
    nn = torch.nn

    class FinetuneNet(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.backbone = torchvision.models.mobilenet_v2(weights=None)
            self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Dropout(dropout))
            self.heads = nn.ModuleDict({k: nn.Linear(1280, n) for k, n in n_classes.items()})

        def forward(self, x: Any) -> dict[str, Any]:
            z = self.pool(self.backbone.features(x))
            return {k: head(z) for k, head in self.heads.items()}

    return FinetuneNet()


class _Loader:
    """Crops, flips and normalises uint8 squares into channels_last float batches."""

    def __init__(
        self, torch: Any, images: np.ndarray, mean: Sequence[float], std: Sequence[float], device: str
    ):
        self.torch, self.images, self.device = torch, images, device
        self.scale = (1.0 / (255.0 * torch.tensor(std))).view(1, 3, 1, 1)
        self.shift = (-torch.tensor(mean) / torch.tensor(std)).view(1, 3, 1, 1)

    def batch(self, idx: np.ndarray, crop: int, rng: np.random.Generator | None) -> Any:
        size = self.images.shape[1]
        if rng is None:  # evaluation: the centre crop
            top = left = (size - crop) // 2
            arr = self.images[idx, top : top + crop, left : left + crop]
        else:
            arr = np.empty((len(idx), crop, crop, 3), dtype=np.uint8)
            for k, i in enumerate(idx):
                top, left = rng.integers(0, size - crop + 1, size=2)
                patch = self.images[i, top : top + crop, left : left + crop]
                arr[k] = patch[:, ::-1] if rng.random() < 0.5 else patch
        x = self.torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float()
        x = x.mul_(self.scale).add_(self.shift)
        return x.contiguous(memory_format=self.torch.channels_last).to(self.device)


def _accuracy(
    net: Any, loader: _Loader, idx: np.ndarray, targets: dict[str, np.ndarray], crop: int
) -> dict[str, float]:
    torch = loader.torch
    net.eval()
    correct = {k: 0 for k in targets}
    total = {k: 0 for k in targets}
    with torch.inference_mode():
        for start in range(0, len(idx), 64):
            part = idx[start : start + 64]
            out = net(loader.batch(part, crop, None))
            for k, logits in out.items():
                y = targets[k][part]
                keep = y >= 0
                pred = logits.argmax(1).cpu().numpy()
                correct[k] += int((pred[keep] == y[keep]).sum())
                total[k] += int(keep.sum())
    return {k: correct[k] / total[k] for k in targets if total[k]}


def finetune_backbone(
    catalog: Catalog,
    settings: Settings,
    options: FinetuneOptions = FinetuneOptions(),
    *,
    resume: bool = False,
    progress: Progress = NO_PROGRESS,
) -> FinetuneReport:
    """Fine-tune ``options.base`` on the catalogue's attributes; write ``options.target``'s weights."""
    torch = require("torch")
    torchvision = require("torchvision")
    from fashionlens.models.registry import get_spec
    from fashionlens.models.weights import resolve_weights

    started = time.perf_counter()
    base_spec, target_spec = get_spec(options.base), get_spec(options.target)
    if base_spec.arch != "mobilenet_v2" or target_spec.arch != "mobilenet_v2":
        raise InvalidInputError(
            f"fine-tuning supports mobilenet_v2 backbones; got {options.base} -> {options.target}"
        )
    device = kit.resolve_device(options.device)
    data = load_attribute_data(catalog, options.base, options.attributes)
    strata = data.labels.get("articleType") or data.labels[options.attributes[0]]
    train_idx, val_idx, test_idx, split_how = draw_split(
        data, strata, "auto", options.test_size, options.val_size, options.seed
    )
    encoders, skipped_heads = build_encoders(data.labels, train_idx, options.min_class_count)
    targets = {e.name: np.asarray(e.encode(data.labels[e.name]), dtype=np.int64) for e in encoders}
    skipped: list[Skipped] = []
    images, ok = load_images(data.paths, base_spec.resize_size, skipped, progress)
    if not ok.all():
        logger.warning("%d images left out: they did not decode", int((~ok).sum()))
        train_idx, val_idx, test_idx = (i[ok[i]] for i in (train_idx, val_idx, test_idx))
    crop_eval = base_spec.input_size
    if options.image_size > base_spec.resize_size:
        raise InvalidInputError(
            f"image_size {options.image_size} is larger than the stored {base_spec.resize_size}px squares"
        )

    with kit.torch_threads(options.num_threads):
        torch.manual_seed(options.seed)
        net = build_network(torchvision, torch, {e.name: len(e) for e in encoders}, options.dropout)
        base_weights = resolve_weights(
            base_spec, "pretrained", settings.weights_dir, models_dir=settings.models_dir
        )
        net.backbone.load_state_dict(torch.load(base_weights, map_location="cpu", weights_only=True))
        net = net.to(device, memory_format=torch.channels_last)
        weights = {
            e.name: torch.from_numpy(
                class_weights(e, targets[e.name][train_idx], options.class_weight_power)
            ).to(device)
            for e in encoders
        }
        head_params = list(net.heads.parameters())
        optimiser = torch.optim.AdamW(
            [
                {"params": list(net.backbone.features.parameters()), "lr": options.backbone_lr},
                {"params": head_params, "lr": options.lr},
            ],
            weight_decay=options.weight_decay,
        )
        steps_per_epoch = max(1, len(train_idx) // options.batch_size)
        total = steps_per_epoch * options.epochs
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimiser, kit.warmup_cosine(int(total * options.warmup_fraction), total)
        )
        loader = _Loader(torch, images, base_spec.mean, base_spec.std, device)
        ckpt = settings.models_dir / "finetune" / options.target / "last.pt"
        history: list[dict[str, Any]] = []
        best: tuple[float, int, dict[str, Any]] | None = None
        start_epoch = 0
        if resume and ckpt.is_file():
            state = kit.load_checkpoint(ckpt, options, MUST_MATCH)
            net.load_state_dict(state["model"])
            optimiser.load_state_dict(state["optimiser"])
            scheduler.load_state_dict(state["scheduler"])
            history = list(state["history"])
            best = (float(state["best_score"]), int(state["best_epoch"]), state["best_model"])
            start_epoch = len(history)
            logger.info("resuming fine-tuning at epoch %d from %s", start_epoch + 1, ckpt)
        progress.start(options.epochs, "fine-tune (epochs)")
        progress.advance(start_epoch)
        for epoch in range(start_epoch, options.epochs):
            t0 = time.perf_counter()
            rng = np.random.default_rng(options.seed * 1000 + epoch)
            order = rng.permutation(train_idx)
            net.train()
            losses = []
            for step in range(steps_per_epoch):
                part = order[step * options.batch_size : (step + 1) * options.batch_size]
                x = loader.batch(part, options.image_size, rng)
                y = {k: torch.from_numpy(t[part]).to(device) for k, t in targets.items()}
                loss, _ = masked_loss(net(x), y, weights, options.label_smoothing)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                scheduler.step()
                losses.append(float(loss.detach()))
            val = _accuracy(net, loader, val_idx, targets, crop_eval)
            score = float(np.mean(list(val.values())))
            row = {
                "epoch": epoch + 1,
                "loss": round(float(np.mean(losses)), 4),
                "val": val,
                "val_mean": round(score, 4),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            history.append(row)
            logger.info("fine-tune epoch %d/%d: %s", epoch + 1, options.epochs, row)
            if best is None or score > best[0]:
                best = (score, epoch + 1, copy.deepcopy(net.state_dict()))
            kit.save_checkpoint(
                ckpt,
                {
                    "model": net.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "history": history,
                    "best_score": best[0],
                    "best_epoch": best[1],
                    "best_model": best[2],
                },
                options,
            )
            progress.advance(1)
        assert best is not None
        net.load_state_dict(best[2])
        test = _accuracy(net, loader, test_idx, targets, crop_eval)

    path = write_backbone(
        net.backbone,
        settings.models_dir / str(target_spec.weights_file),
        {
            "format": FINETUNE_FORMAT,
            "backbone_id": options.target,
            "base": options.base,
            "options": kit.config_dict(options),
            "split": split_how,
            "n_train": len(train_idx),
            "n_val": len(val_idx),
            "n_test": len(test_idx),
            "best_epoch": best[1],
            "history": history,
            "test_accuracy_linear_heads": test,
            "heads": {e.name: list(e.classes) for e in encoders},
            "skipped_heads": skipped_heads,
        },
    )
    return FinetuneReport(
        path,
        options.target,
        len(train_idx),
        len(val_idx),
        len(test_idx),
        best[1],
        len(history),
        time.perf_counter() - started,
        test,
        history,
        skipped,
    )


def write_backbone(backbone: Any, path: Path, card: dict[str, Any]) -> Path:
    """The torchvision state dict in fp16 (atomically) and its card (``.json`` beside it)."""
    state = {
        k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu())
        for k, v in backbone.state_dict().items()
    }
    import torch

    # a plain state dict (not `kit.save_checkpoint`, whose "format" key torchvision would refuse)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    logger.info("fine-tuned backbone written to %s", path)
    return path


def finetune_and_fit(
    catalog: Catalog,
    settings: Settings,
    options: FinetuneOptions = FinetuneOptions(),
    *,
    resume: bool = False,
    progress: Progress = NO_PROGRESS,
) -> tuple[FinetuneReport, Any]:
    """Fine-tune, embed the catalogue with the result, fit the attribute classifier on it."""
    from fashionlens.jobs.embed import embed_catalog
    from fashionlens.models import factory
    from fashionlens.training.attributes import train_attributes

    report = finetune_backbone(catalog, settings, options, resume=resume, progress=progress)
    backbone = factory.backbone(settings, options.target, runtime="torch")
    embed_catalog(catalog, backbone, batch_size=settings.batch_size, progress=progress)
    attributes = train_attributes(
        catalog, settings, options.target, attributes=options.attributes, seed=options.seed, progress=progress
    )
    return report, attributes
