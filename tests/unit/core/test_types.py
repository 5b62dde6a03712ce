from __future__ import annotations

import numpy as np
import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.types import Embeddings, ImageRecord, ObjectAnnotation, clip_xyxy, l2_normalise


def _unit(n: int, d: int) -> np.ndarray:
    return l2_normalise(np.random.default_rng(0).normal(size=(n, d)))


def test_embeddings_validate_and_index() -> None:
    emb = Embeddings(("a", "b", "c"), _unit(3, 4), "m.tag")
    assert len(emb) == 3 and emb.dim == 4
    sub = emb[np.array([True, False, True])]
    assert sub.ids == ("a", "c") and sub.vectors.shape == (2, 4) and sub.model_id == "m.tag"
    assert len(Embeddings.empty("m.tag", 4)) == 0


@pytest.mark.parametrize(
    ("ids", "vectors", "model_id", "message"),
    [
        (("a",), np.ones((1, 4), np.float32), "m.t", "L2-normalised"),
        (("a",), _unit(1, 4).astype(np.float64), "m.t", "float32"),
        (("a", "b"), _unit(1, 4), "m.t", "expected 1 ids"),
        (("a",), _unit(1, 4), "", "model_id is required"),
        (("a",), np.full((1, 4), np.nan, np.float32), "m.t", "NaN"),
        (("a",), np.ones(4, np.float32), "m.t", "2-D"),
    ],
)
def test_embeddings_reject_bad_input(ids, vectors, model_id, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Embeddings(ids, vectors, model_id)


def test_records_validate() -> None:
    with pytest.raises(InvalidInputError, match="source must be one of"):
        ImageRecord("id", "catwalk", "d", "/p.jpg", "train", 10, 10, "h")
    with pytest.raises(InvalidInputError, match="split must be one of"):
        ImageRecord("id", "street", "d", "/p.jpg", "dev", 10, 10, "h")
    with pytest.raises(InvalidInputError, match="size must be positive"):
        ImageRecord("id", "street", "d", "/p.jpg", "train", 0, 10, "h")
    with pytest.raises(InvalidInputError, match="x2>=x1"):
        ObjectAnnotation("id", "top", (10, 0, 5, 5), "d")


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((10, 10, 20, 20), (10, 10, 20, 20)),
        ((-5, -5, 20, 20), (0, 0, 20, 20)),
        ((90, 50, 130, 120), (90, 50, 100, 100)),
        ((120, 120, 130, 130), (100, 100, 100, 100)),
    ],
)
def test_clip_xyxy(box, expected) -> None:
    assert clip_xyxy(box, 100, 100) == expected
