"""The category probe saves numbers, never a pickle, and predicts exactly as scikit-learn does."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from fashionlens.core.errors import InvalidInputError, NotReadyError
from fashionlens.models.heads.linear_probe import LinearProbe


@pytest.mark.parametrize("n_classes", [2, 4])
def test_round_trip_matches_sklearn(tmp_path: Path, n_classes: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 8)).astype(np.float32)
    y = [f"c{i % n_classes}" for i in range(120)]
    x[:, 0] += np.asarray([i % n_classes for i in range(120)])  # learnable
    probe = LinearProbe("toy.backbone", "category").fit(x, y)
    sk = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000, random_state=0).fit(
        x, np.asarray(y)
    )
    np.testing.assert_allclose(probe.predict_proba(x), sk.predict_proba(x), atol=1e-5)
    path = probe.save(tmp_path / "probe.npz")
    again = LinearProbe.load(path)
    np.testing.assert_allclose(again.predict_proba(x), probe.predict_proba(x), atol=1e-7)
    assert again.classes == probe.classes


def test_a_pickle_in_its_place_is_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "probe.npz"
    path.write_bytes(pickle.dumps(Evil()))
    path.with_suffix(".json").write_text('{"classes": ["a", "b"], "backbone_id": "x", "task": "category"}')
    with pytest.raises(InvalidInputError):
        LinearProbe.load(path)
    assert not marker.exists()


def test_missing_probe_says_how_to_train(tmp_path: Path) -> None:
    with pytest.raises(NotReadyError, match="train category"):
        LinearProbe.load(tmp_path / "none.npz")
