"""The training loop of the attribute classifier: AdamW, warm-up + cosine, early stopping, checkpoints.

Works on in-memory arrays (embeddings, optional extra features, encoded targets per head with
``-1`` = masked) and index arrays for the train and validation rows. Early stopping watches the
mean validation accuracy over heads. ``checkpoints/best.pt`` holds the best weights so far,
``checkpoints/last.pt`` everything needed to resume (weights, optimizer, scheduler, epoch, best
state, history), both rewritten atomically after each epoch.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, require
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.models.heads.attributes import AttributeClassifier, class_weights, masked_loss
from fashionlens.training.kit import save_checkpoint, warmup_cosine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 80
    lr: float = 1e-3
    weight_decay: float = 0.05
    batch_size: int = 128
    patience: int = 12
    label_smoothing: float = 0.1
    class_weight_power: float = 0.5
    warmup_epochs: int = 2
    seed: int = 0
    num_threads: int = 1  # torch threads while training; 0 leaves torch's setting alone

    def __post_init__(self) -> None:
        checks = [
            ("epochs", self.epochs >= 1),
            ("lr", self.lr > 0),
            ("weight_decay", self.weight_decay >= 0),
            ("batch_size", self.batch_size >= 1),
            ("patience", self.patience >= 1),
            ("label_smoothing", 0.0 <= self.label_smoothing < 1.0),
            ("class_weight_power", self.class_weight_power >= 0),
            ("warmup_epochs", self.warmup_epochs >= 0),
            ("num_threads", self.num_threads >= 0),
        ]
        for name, ok in checks:
            if not ok:
                raise InvalidInputError(f"{name}: invalid value {getattr(self, name)!r}")


@dataclass
class FitResult:
    best_epoch: int
    best_score: float
    epochs_run: int
    stopped_early: bool
    history: list[dict[str, Any]] = field(default_factory=list)


_lr_lambda = warmup_cosine


def validation_scores(
    classifier: AttributeClassifier,
    x: np.ndarray,
    extra: np.ndarray | None,
    targets: Mapping[str, np.ndarray],
    idx: np.ndarray,
) -> dict[str, float]:
    """Accuracy per head on the rows of ``idx`` labelled for that head."""
    logits = classifier.logits(x[idx], None if extra is None else extra[idx])
    out = {}
    for name, z in logits.items():
        y = targets[name][idx]
        keep = y >= 0
        out[name] = float((z[keep].argmax(axis=1) == y[keep]).mean()) if keep.any() else float("nan")
    return out


def _save(torch: Any, obj: Any, path: Path) -> None:
    save_checkpoint(path, obj)


@contextlib.contextmanager
def torch_threads(torch: Any, n: int) -> Iterator[None]:
    """Run with ``n`` intra-op threads (0: unchanged), then restore the previous setting.

    One thread is the default for this small MLP: its matmuls are too small to share out, and on
    the shared 2-core machine two threads made an epoch up to 10x slower (spinning workers
    competing with other jobs).
    """
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n:
            torch.set_num_threads(before)


def fit(
    classifier: AttributeClassifier,
    x: np.ndarray,
    extra: np.ndarray | None,
    targets: Mapping[str, np.ndarray],
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    options: TrainOptions,
    *,
    checkpoint_dir: Path | None = None,
    signature: str = "",
    resume: bool = False,
    progress: Progress = NO_PROGRESS,
) -> FitResult:
    """Train ``classifier.net`` in place; it ends holding the best validation weights."""
    torch = require("torch")
    with torch_threads(torch, options.num_threads):
        return _fit(
            torch, classifier, x, extra, targets, train_idx, val_idx, options,
            checkpoint_dir, signature, resume, progress,
        )  # fmt: skip


def _fit(
    torch: Any,
    classifier: AttributeClassifier,
    x: np.ndarray,
    extra: np.ndarray | None,
    targets: Mapping[str, np.ndarray],
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    options: TrainOptions,
    checkpoint_dir: Path | None,
    signature: str,
    resume: bool,
    progress: Progress,
) -> FitResult:
    if len(train_idx) == 0:
        raise InvalidInputError("no training rows")
    net = classifier.net
    heads = classifier.heads
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    et = None if extra is None else torch.from_numpy(np.ascontiguousarray(extra, dtype=np.float32))
    yt = {h: torch.from_numpy(np.asarray(targets[h], dtype=np.int64)) for h in heads}
    weights = {
        h: torch.from_numpy(
            class_weights(classifier.encoders[h], targets[h][train_idx], options.class_weight_power)
        )
        for h in heads
    }
    steps_per_epoch = math.ceil(len(train_idx) / options.batch_size)
    optimizer = torch.optim.AdamW(net.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        _lr_lambda(options.warmup_epochs * steps_per_epoch, options.epochs * steps_per_epoch),
    )
    result = FitResult(best_epoch=0, best_score=-1.0, epochs_run=0, stopped_early=False)
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    bad_epochs = 0
    start_epoch = 1
    last_path = checkpoint_dir / "last.pt" if checkpoint_dir else None
    if checkpoint_dir is not None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
    if resume and last_path is not None and last_path.is_file():
        state = torch.load(last_path, map_location="cpu", weights_only=True)
        if state.get("signature") != signature:
            logger.warning("%s was made on other data or settings; starting afresh", last_path)
        else:
            net.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            best_state = state["best_state"]
            bad_epochs = int(state["bad_epochs"])
            result = FitResult(
                int(state["best_epoch"]),
                float(state["best_score"]),
                int(state["epoch"]),
                bool(state["stopped_early"]),
                list(state["history"]),
            )
            start_epoch = int(state["epoch"]) + 1
            logger.info("resuming attribute training at epoch %d from %s", start_epoch, last_path)
            if start_epoch > 1:
                progress.advance(options.epochs if result.stopped_early else start_epoch - 1)

    for epoch in range(start_epoch, options.epochs + 1):
        if result.stopped_early:
            break
        net.train()
        torch.manual_seed(options.seed * 100_003 + epoch)  # dropout; reproducible on resume
        order = np.random.default_rng([options.seed, epoch]).permutation(train_idx)
        total, n = 0.0, 0
        for start in range(0, len(order), options.batch_size):
            idx = torch.from_numpy(order[start : start + options.batch_size])
            logits = net(xt[idx], None if et is None else et[idx])
            loss, _ = masked_loss(logits, {h: yt[h][idx] for h in heads}, weights, options.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(idx)
            n += len(idx)
        net.eval()
        val = validation_scores(classifier, x, extra, targets, val_idx) if len(val_idx) else {}
        finite = [v for v in val.values() if not math.isnan(v)]
        score = float(np.mean(finite)) if finite else -total / max(n, 1)
        result.history.append({"epoch": epoch, "train_loss": total / max(n, 1), "val_score": score, **val})
        result.epochs_run = epoch
        if score > result.best_score + 1e-4:
            result.best_score, result.best_epoch, bad_epochs = score, epoch, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            if checkpoint_dir is not None:
                _save(torch, {**classifier.checkpoint(), "epoch": epoch}, checkpoint_dir / "best.pt")
        else:
            bad_epochs += 1
            if bad_epochs >= options.patience:
                result.stopped_early = True
        logger.debug("epoch %d: loss %.4f, val %s", epoch, total / max(n, 1), val)
        if last_path is not None:
            _save(
                torch,
                {
                    "signature": signature,
                    "epoch": epoch,
                    "model": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "best_state": best_state,
                    "best_epoch": result.best_epoch,
                    "best_score": result.best_score,
                    "bad_epochs": bad_epochs,
                    "stopped_early": result.stopped_early,
                    "history": result.history,
                },
                last_path,
            )
        progress.advance(options.epochs - epoch + 1 if result.stopped_early else 1)
    net.load_state_dict(best_state)
    net.eval()
    logger.info(
        "attribute training: best validation score %.4f at epoch %d of %d%s",
        result.best_score,
        result.best_epoch,
        result.epochs_run,
        " (stopped early)" if result.stopped_early else "",
    )
    return result
