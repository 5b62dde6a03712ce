"""Zero-shot labels: the prompt set whose text vector is closest to each image vector."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.models.backbones.text_tower import TextEncoder


def zero_shot(
    image_vectors: np.ndarray,
    labels: Sequence[str],
    encoder: TextEncoder,
    templates: Sequence[str],
    *,
    nouns: Sequence[str] = ("clothing",),
    word: Callable[[str], str] = str.lower,
) -> tuple[list[str], np.ndarray]:
    """Label joint-space image vectors with the closest prompt set; returns labels and cosine scores."""
    if not labels:
        raise InvalidInputError("zero-shot needs at least one label")
    prompts = [
        [t.format(label=word(label), noun=n) for t in templates for n in (nouns if "{noun}" in t else [""])]
        for label in labels
    ]
    flat = encoder.encode([p for group in prompts for p in group])
    text, start = [], 0
    for group in prompts:
        text.append(flat[start : start + len(group)].mean(0))
        start += len(group)
    matrix = np.asarray(text, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    scores = image_vectors @ matrix.T
    return [labels[i] for i in scores.argmax(1)], scores
