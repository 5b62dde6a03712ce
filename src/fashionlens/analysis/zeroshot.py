"""Zero-shot accuracy per attribute on held-out products, next to the majority class."""

from __future__ import annotations

from functools import partial

import numpy as np

from fashionlens.models.backbones.text_tower import TextEncoder
from fashionlens.services.zeroshot import zero_shot
from fashionlens.training.attributes import AttributeData
from fashionlens.training.text_tower import PROMPTS, prompt_word


def evaluate_zero_shot(
    projected: np.ndarray,
    data: AttributeData,
    test_idx: np.ndarray,
    train_idx: np.ndarray,
    encoder: TextEncoder,
    min_count: int = 10,
) -> dict[str, float]:
    """Zero-shot accuracy per attribute on ``test_idx``, over the classes with >= ``min_count``
    training examples (the label set a trained head would know)."""
    from collections import Counter

    articles = Counter(a for i in train_idx if (a := data.labels.get("articleType", [None] * len(data))[i]))
    nouns = [a.lower() for a, _ in articles.most_common(20)] or ["clothing"]
    out: dict[str, float] = {}
    for attribute, templates in PROMPTS.items():
        values = data.labels.get(attribute)
        if values is None:
            continue
        counts = Counter(values[i] for i in train_idx if values[i])
        classes = sorted(c for c, n in counts.items() if n >= min_count)
        rows = [i for i in test_idx if values[i] in classes]
        if len(classes) < 2 or not rows:
            continue
        pred, _ = zero_shot(
            projected[rows], classes, encoder, templates, nouns=nouns, word=partial(prompt_word, attribute)
        )
        out[attribute] = float(np.mean([p == values[i] for p, i in zip(pred, rows, strict=True)]))
    return out
