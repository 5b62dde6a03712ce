"""How the attribute heads' train/validation/test rows are drawn: recorded splits or stratified."""

from __future__ import annotations

import numpy as np
import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.training.attributes import AttributeData, draw_split


def _data(splits: list[str], labels: list[str]) -> AttributeData:
    n = len(splits)
    return AttributeData(
        [f"id{i:03d}" for i in range(n)],
        np.zeros((n, 4), np.float32),
        {"label": list(labels)},
        [f"p{i}.jpg" for i in range(n)],
        [f"h{i}" for i in range(n)],
        "dummy.space",
        splits,
    )


def test_recorded_train_and_valid_folders_are_train_and_test() -> None:
    splits = ["train"] * 60 + ["valid"] * 20
    labels = (["dress", "hat", "shoes"] * 27)[:80]
    data = _data(splits, labels)
    for method in ("auto", "recorded"):
        train, val, test, how = draw_split(data, labels, method, 0.2, 0.15, 0)
        assert set(test) == set(range(60, 80))  # exactly the validation/ folder
        assert set(train) | set(val) == set(range(60)) and not set(train) & set(val)
        assert len(val) == 9 and "recorded" in how


def test_recorded_valid_validates_when_there_is_a_test_split() -> None:
    splits = ["train"] * 30 + ["valid"] * 10 + ["test"] * 10
    labels = ["a", "b"] * 25
    train, val, test, _ = draw_split(_data(splits, labels), labels, "auto", 0.2, 0.15, 0)
    assert list(train) == list(range(30))
    assert list(val) == list(range(30, 40)) and list(test) == list(range(40, 50))


def test_unsplit_images_are_stratified_and_recorded_is_refused() -> None:
    labels = ["a", "b", "c", "d"] * 25
    data = _data(["unsplit"] * 100, labels)
    train, val, test, how = draw_split(data, labels, "auto", 0.2, 0.15, 0)
    assert len(test) == 20 and "stratified" in how
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))
    with pytest.raises(InvalidInputError, match="recorded"):
        draw_split(data, labels, "recorded", 0.2, 0.15, 0)
    with pytest.raises(InvalidInputError, match="split must be one of"):
        draw_split(data, labels, "random", 0.2, 0.15, 0)
