"""Train the text tower's projection (image features -> MiniLM sentence space) and label zero-shot.

Training pairs are catalogued product photos and captions written from their catalogue fields
(display name; "a photo of a navy blue tshirts"; "tshirts for men"; "summer casual tshirts").
The loss is the symmetric contrastive (InfoNCE) loss of CLIP/LiT with both towers frozen and only
the linear projection and the temperature learned; captions shared by several photos in a batch
count as positives for each of them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashionlens.core.errors import NotReadyError
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.settings import Settings
from fashionlens.models.backbones.text_tower import SPEC, Projection, TextEncoder
from fashionlens.store.catalog import Catalog
from fashionlens.training.attributes import load_attribute_data, stratified_split

logger = logging.getLogger(__name__)

GENDER_WORDS = {"Men": "men", "Women": "women", "Boys": "boys", "Girls": "girls", "Unisex": "everyone"}

# Zero-shot prompts per attribute; the text vectors of all prompts of a label are averaged. A
# "{noun}" template is expanded over the most common article types of the training products
# (vocabulary only, no labels of the images scored).
PROMPTS: dict[str, tuple[str, ...]] = {
    "articleType": ("a photo of a {label}", "{label}"),
    "baseColour": ("a photo of a {label} fashion item", "{label} coloured clothing"),
    "gender": ("{noun} for {label}", "{label} {noun}"),
    "season": ("{label} casual {noun}", "{label} {noun}"),
    "usage": ("{label} {noun}",),
}


def prompt_word(attribute: str, label: str) -> str:
    """How a label reads in a caption: ``Unisex`` -> ``everyone``, ``Men`` -> ``men``."""
    return GENDER_WORDS.get(label, label.lower()) if attribute == "gender" else label.lower()


def captions_for(attrs: dict[str, object]) -> list[str]:
    """Captions for one product from its catalogue fields (empty fields are left out)."""

    def get(key: str) -> str:
        value = str(attrs.get(key) or "").strip()
        return "" if value.upper() == "NA" else value

    article, colour, gender = get("articleType").lower(), get("baseColour").lower(), get("gender")
    out = [get("productDisplayName")]
    if article:
        out.append(f"a photo of a {colour} {article}" if colour else f"a photo of a {article}")
        if gender in GENDER_WORDS:
            out.append(f"{article} for {GENDER_WORDS[gender]}")
        season, usage = get("season").lower(), get("usage").lower()
        if season or usage:
            out.append(" ".join(w for w in (season, usage, article) if w))
    return [c for c in out if c]


@dataclass
class TextTowerReport:
    path: Path
    n_train: int
    n_captions: int
    epochs: int
    final_loss: float
    seconds: float
    zero_shot: dict[str, float] = field(default_factory=dict)


def _captions_of(catalog: Catalog, ids: Sequence[str]) -> list[list[str]]:
    import json

    rows = catalog.read("labels", columns=["image_id", "attributes_json"]).to_pylist()
    by_id: dict[str, list[str]] = {}
    for row in rows:
        if row["image_id"] not in by_id and row["attributes_json"]:
            caps = captions_for(json.loads(row["attributes_json"]))
            if caps:
                by_id[row["image_id"]] = caps
    return [by_id.get(i, []) for i in ids]


def fit_projection(
    features: np.ndarray,
    captions: Sequence[Sequence[str]],
    encoder: TextEncoder,
    *,
    epochs: int = 40,
    batch_size: int = 512,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    progress: Progress = NO_PROGRESS,
) -> tuple[Projection, float]:
    """Learn ``W, b`` (and the temperature) so projected image features match their captions."""
    import torch

    keep = [i for i, caps in enumerate(captions) if caps]
    if len(keep) < 8:
        raise NotReadyError(f"need at least 8 captioned images to train the text tower; got {len(keep)}")
    unique = sorted({c for i in keep for c in captions[i]})
    index = {c: k for k, c in enumerate(unique)}
    text = torch.from_numpy(encoder.encode(unique))
    x_all = torch.from_numpy(features[keep].astype(np.float32))
    options = [[index[c] for c in captions[i]] for i in keep]
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    linear = torch.nn.Linear(x_all.shape[1], text.shape[1])
    torch.nn.init.normal_(linear.weight, std=x_all.shape[1] ** -0.5)
    torch.nn.init.zeros_(linear.bias)
    log_scale = torch.nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))
    opt = torch.optim.AdamW([*linear.parameters(), log_scale], lr=lr, weight_decay=weight_decay)
    steps = epochs * max(1, int(np.ceil(len(keep) / batch_size)))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    loss_value = float("nan")
    for _epoch in range(epochs):
        order = torch.randperm(len(keep), generator=gen)
        total, batches = 0.0, 0
        for start in range(0, len(keep), batch_size):
            idx = order[start : start + batch_size]
            cap = torch.as_tensor([options[int(i)][rng.integers(len(options[int(i)]))] for i in idx])
            img = torch.nn.functional.normalize(linear(x_all[idx]), dim=1)
            logits = log_scale.clamp(max=np.log(100)).exp() * img @ text[cap].T
            same = (cap[:, None] == cap[None, :]).float()  # shared captions are positives too
            target = same / same.sum(1, keepdim=True)
            loss = 0.5 * (
                torch.nn.functional.cross_entropy(logits, target)
                + torch.nn.functional.cross_entropy(logits.T, target)
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total, batches = total + float(loss.detach()), batches + 1
        loss_value = total / batches
        progress.advance(1)
    card = {
        "backbone": SPEC.name,
        "image_backbone": SPEC.extra["image_backbone"],
        "text_model": SPEC.extra["text_model"],
        "n_train_images": len(keep),
        "n_captions": len(unique),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "seed": seed,
        "temperature": float(1 / log_scale.exp().item()),
        "final_loss": loss_value,
    }
    weight = linear.weight.detach().numpy().T.copy()
    return Projection(weight, linear.bias.detach().numpy().copy(), card), loss_value


def projection_path(settings: Settings) -> Path:
    return settings.models_dir / "text_tower" / (SPEC.weights_file or "projection.npz")


def train_text_tower(
    catalog: Catalog,
    settings: Settings,
    *,
    out: Path | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    epochs: int = 40,
    progress: Progress = NO_PROGRESS,
) -> TextTowerReport:
    """Train on the products' stratified keep-split (the held-out split of `train attributes`,
    same ``test_size`` and ``seed``), report zero-shot accuracy on the held-out products, save."""
    image_backbone = str(SPEC.extra["image_backbone"])
    stored = catalog.embedding_models()
    if image_backbone not in stored and f"{image_backbone}+onnx-int8" in stored:
        image_backbone = f"{image_backbone}+onnx-int8"  # the default runtime's vectors
    data = load_attribute_data(catalog, image_backbone)
    train_idx, test_idx = stratified_split(data.labels["articleType"], test_size, seed)
    captions = _captions_of(catalog, data.ids)
    encoder = TextEncoder(device=settings.device)
    start = time.perf_counter()
    projection, loss = fit_projection(
        data.vectors[train_idx],
        [captions[i] for i in train_idx],
        encoder,
        epochs=epochs,
        seed=seed,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    from fashionlens.analysis.zeroshot import evaluate_zero_shot

    scores = evaluate_zero_shot(projection(data.vectors), data, test_idx, train_idx, encoder)
    projection.card.update(
        {
            "test_size": test_size,
            "split": "stratified by articleType (train attributes)",
            "n_test_images": len(test_idx),
            "zero_shot_accuracy": scores,
        }
    )
    path = projection.save(out or projection_path(settings))
    logger.info(
        "text tower: %d images, loss %.3f, zero-shot %s; saved %s", len(train_idx), loss, scores, path
    )
    return TextTowerReport(
        path, len(train_idx), int(projection.card["n_captions"]), epochs, loss, seconds, scores
    )
