"""The multi-head attribute classifier on synthetic data: encoders, pruning, class weights,
masking, save/load, shapes, the training loop (early stopping, resume) and the colour descriptor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashionlens.core.errors import InvalidInputError, NotReadyError
from fashionlens.core.progress import CountingProgress
from fashionlens.models.colour.features import DIM, colour_descriptor, rgb_to_lab
from fashionlens.models.heads.attributes import (
    MISSING,
    AttributeClassifier,
    AttributeConfig,
    LabelEncoder,
    class_weights,
    masked_loss,
)
from fashionlens.training import attributes_fit as trainer
from fashionlens.training.attributes import build_encoders, stratified_split, target_label


def l2(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


# -- encoders -----------------------------------------------------------------------------------


def test_encoder_sorts_prunes_and_masks() -> None:
    labels = ["zebra"] * 5 + ["apple"] * 3 + ["kiwi"] * 2 + [None, ""]
    enc = LabelEncoder.fit("fruit", labels, min_count=3)
    assert enc.classes == ("apple", "zebra")
    assert enc.pruned == {"kiwi": 2}
    codes = enc.encode(["apple", "zebra", "kiwi", None, "", "mango"])
    assert codes.tolist() == [0, 1, MISSING, MISSING, MISSING, MISSING]
    assert codes.dtype == np.int64
    assert enc.decode([1, 0]) == ["zebra", "apple"]


@pytest.mark.parametrize(
    ("label", "message"),
    [("kiwi", "pruned: 2 < 3 examples"), ("mango", "unknown class 'mango'")],
)
def test_encoder_index_names_unknown_classes(label: str, message: str) -> None:
    enc = LabelEncoder.fit("fruit", ["apple"] * 3 + ["zebra"] * 3 + ["kiwi"] * 2, min_count=3)
    with pytest.raises(InvalidInputError, match=message) as info:
        enc.index(label)
    assert "known: apple, zebra" in str(info.value)


def test_encoder_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="out of range"):
        LabelEncoder("a", ("x", "y")).decode([2])
    with pytest.raises(InvalidInputError, match="duplicate"):
        LabelEncoder("a", ("x", "x"))
    with pytest.raises(InvalidInputError, match="min_count"):
        LabelEncoder.fit("a", ["x"], min_count=0)


def test_encoder_dict_round_trip() -> None:
    enc = LabelEncoder.fit("season", ["Fall"] * 4 + ["Summer"] * 3 + ["Spring"], min_count=2)
    assert LabelEncoder.from_dict(json.loads(json.dumps(enc.to_dict()))) == enc


def test_build_encoders_skips_an_empty_attribute() -> None:
    labels: dict[str, list[str | None]] = {
        "articleType": ["Shirts", "Jeans"] * 10,
        "usage": [None] * 20,  # an attribute nobody filled in
        "season": ["Fall"] * 19 + ["Summer"],  # one class left after pruning
    }
    encoders, skipped = build_encoders(labels, np.arange(20), min_class_count=5)
    assert [e.name for e in encoders] == ["articleType"]
    assert set(skipped) == {"usage", "season"}
    assert "0 labelled training images" in skipped["usage"]
    with pytest.raises(InvalidInputError, match="no attribute has 2 or more"):
        build_encoders({"usage": [None] * 4}, np.arange(4), 1)


@pytest.mark.parametrize(
    ("attribute", "raw", "expected"),
    [
        ("baseColour", "Navy Blue", "blue"),
        ("baseColour", "Multi", None),  # no group: excluded from the colour head only
        ("baseColour", "NA", None),
        ("usage", "NA", None),
        ("usage", " Casual ", "Casual"),
        ("season", "", None),
        ("season", None, None),
        ("gender", "Women", "Women"),
    ],
)
def test_target_label(attribute: str, raw: str | None, expected: str | None) -> None:
    assert target_label(attribute, raw) == expected


# -- class weights --------------------------------------------------------------------------------


def test_class_weights_follow_encoder_order() -> None:
    # "zebra" is frequent but sorts last: its weight must sit at index 1, not 0
    labels = ["zebra"] * 8 + ["apple"] * 2 + [None] * 5
    enc = LabelEncoder.fit("x", labels)
    y = enc.encode(labels)
    w = class_weights(enc, y, power=1.0)
    assert w.shape == (2,) and w.dtype == np.float32
    assert w[enc.index("apple")] > w[enc.index("zebra")]
    assert w[0] / w[1] == pytest.approx(8 / 2)  # balanced: inversely proportional to counts
    assert w[y[y >= 0]].mean() == pytest.approx(1.0)  # the masked rows play no part
    assert class_weights(enc, y, power=0.5)[0] / class_weights(enc, y, power=0.5)[1] == pytest.approx(2.0)
    assert np.allclose(class_weights(enc, y, power=0.0), 1.0)


def test_class_weights_edge_cases() -> None:
    enc = LabelEncoder("x", ("a", "b", "c"))
    w = class_weights(enc, np.array([0, 0, 1, -1]), power=1.0)
    assert w[2] == w.max()  # a class without rows gets the largest weight, never inf
    assert np.isfinite(w).all()
    assert np.allclose(class_weights(enc, np.array([-1, -1])), 1.0)
    with pytest.raises(InvalidInputError, match="label index 3"):
        class_weights(enc, np.array([3]))


# -- loss masking ---------------------------------------------------------------------------------


def test_masked_loss_ignores_unlabelled_rows() -> None:
    torch.manual_seed(0)
    logits = {"a": torch.randn(6, 3, requires_grad=True), "b": torch.randn(6, 2, requires_grad=True)}
    targets = {"a": torch.tensor([0, 2, -1, 1, -1, 0]), "b": torch.full((6,), -1)}
    total, per_head = masked_loss(logits, targets)
    keep = targets["a"] >= 0
    expected = torch.nn.functional.cross_entropy(logits["a"][keep], targets["a"][keep])
    assert float(total.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    assert set(per_head) == {"a"}  # a head without any label in the batch adds nothing
    total.backward()
    assert logits["a"].grad is not None
    assert torch.all(logits["a"].grad[~keep] == 0) and torch.any(logits["a"].grad[keep] != 0)
    assert logits["b"].grad is None or torch.all(logits["b"].grad == 0)


def test_masked_loss_uses_class_weights() -> None:
    logits = {"a": torch.zeros(4, 2)}
    targets = {"a": torch.tensor([0, 0, 0, 1])}
    weights = {"a": torch.tensor([1.0, 3.0])}
    total, _ = masked_loss(logits, targets, weights)
    # equal logits: every row's CE is log 2 whatever its weight
    assert float(total) == pytest.approx(np.log(2), rel=1e-6)
    all_masked, per_head = masked_loss(logits, {"a": torch.full((4,), -1)})
    assert float(all_masked) == 0.0 and per_head == {}


# -- classifier shapes, save / load ------------------------------------------------------------


def make_classifier(
    dim: int, classes: dict[str, int], extra_dim: int = 0, extra_hidden: int = 0
) -> AttributeClassifier:
    encoders = [LabelEncoder(name, tuple(f"{name}{i}" for i in range(k))) for name, k in classes.items()]
    config = AttributeConfig(
        input_dim=dim,
        hidden=(32,),
        dropout=0.1,
        input_dropout=0.0,
        extra_dim=extra_dim,
        extra_heads=(next(iter(classes)),) if extra_dim else (),
        extra_feature="test" if extra_dim else "",
        extra_hidden=extra_hidden,
    )
    return AttributeClassifier("toy.backbone", encoders, config)


@pytest.mark.parametrize(
    ("n", "dim", "classes", "extra_dim", "extra_hidden"),
    [
        (1, 8, {"a": 2}, 0, 0),
        (7, 32, {"a": 5, "b": 2, "c": 3}, 0, 0),
        (33, 16, {"colour": 11, "gender": 5}, 4, 0),
        (5, 16, {"colour": 11, "gender": 5}, 4, 8),
        (0, 8, {"a": 3, "b": 2}, 0, 0),
    ],
)
def test_predict_shapes(n: int, dim: int, classes: dict[str, int], extra_dim: int, extra_hidden: int) -> None:
    rng = np.random.default_rng(n)
    clf = make_classifier(dim, classes, extra_dim, extra_hidden)
    x = l2(rng.normal(size=(n, dim))) if n else np.zeros((0, dim), np.float32)
    extra = rng.normal(size=(n, extra_dim)).astype(np.float32) if extra_dim else None
    pred = clf.predict(x, extra)
    assert len(pred) == n
    for name, k in classes.items():
        assert pred.probabilities[name].shape == (n, k)
        assert np.allclose(pred.probabilities[name].sum(axis=1), 1.0, atol=1e-5)
        assert pred.confidences[name].shape == (n,)
        assert np.all((pred.confidences[name] > 0) & (pred.confidences[name] <= 1))
        assert set(pred.labels[name]) <= set(clf.encoders[name].classes)
    records = pred.records()
    assert len(records) == n
    if n:
        assert set(records[0]) == {"predictions", "confidences"}
        assert set(records[0]["predictions"]) == set(classes)


def test_predict_checks_its_input() -> None:
    clf = make_classifier(8, {"a": 3, "b": 2}, extra_dim=4)
    x = l2(np.ones((2, 8)))
    with pytest.raises(InvalidInputError, match=r"expected \(N, 8\)"):
        clf.predict(np.ones((2, 9), np.float32), np.ones((2, 4), np.float32))
    with pytest.raises(InvalidInputError, match="needs test features"):
        clf.predict(x)
    with pytest.raises(InvalidInputError, match=r"expected \(2, 4\)"):
        clf.predict(x, np.ones((2, 3), np.float32))
    with pytest.raises(InvalidInputError, match="at least 2 classes"):
        AttributeClassifier("toy", [LabelEncoder("a", ("only",))], AttributeConfig(input_dim=8))


def toy_problem(n: int = 240, dim: int = 24, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Two heads whose classes are linear in the embedding, with ~20% of labels missing."""
    rng = np.random.default_rng(seed)
    x = l2(rng.normal(size=(n, dim)))
    a = (x[:, :3]).argmax(axis=1)
    b = (x[:, 3] > 0).astype(np.int64)
    b[rng.random(n) < 0.2] = MISSING
    return x, {"a": a.astype(np.int64), "b": b}


def test_training_learns_early_stops_and_round_trips(tmp_path: Path) -> None:
    x, targets = toy_problem()
    clf = make_classifier(x.shape[1], {"a": 3, "b": 2})
    train, val = np.arange(0, 180), np.arange(180, 240)
    options = trainer.TrainOptions(epochs=80, lr=1e-2, batch_size=32, patience=8, seed=1)
    result = trainer.fit(clf, x, None, targets, train, val, options, checkpoint_dir=tmp_path / "ck")
    scores = trainer.validation_scores(clf, x, None, targets, val)
    assert scores["a"] > 0.8 and scores["b"] > 0.8
    assert result.stopped_early and result.epochs_run < 80
    assert result.best_score == pytest.approx(np.mean(list(scores.values())))
    assert (tmp_path / "ck" / "best.pt").is_file() and (tmp_path / "ck" / "last.pt").is_file()

    clf.metrics = {"heads": {"a": {"accuracy": scores["a"]}}}
    path = clf.save(tmp_path / "attributes.pt")
    loaded = AttributeClassifier.load(path)
    before, after = clf.predict(x), loaded.predict(x)
    for name in clf.heads:
        assert after.labels[name] == before.labels[name]
        np.testing.assert_array_equal(after.probabilities[name], before.probabilities[name])
    assert loaded.encoders == clf.encoders and loaded.config == clf.config
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["heads"]["a"]["classes"] == ["a0", "a1", "a2"]
    assert card["metrics"]["heads"]["a"]["accuracy"] == pytest.approx(scores["a"])


def test_resume_continues_where_training_stopped(tmp_path: Path) -> None:
    x, targets = toy_problem(seed=3)
    train, val = np.arange(0, 180), np.arange(180, 240)
    options = trainer.TrainOptions(epochs=6, lr=3e-3, batch_size=32, patience=50, seed=2)

    torch.manual_seed(0)
    full = make_classifier(x.shape[1], {"a": 3, "b": 2})
    trainer.fit(full, x, None, targets, train, val, options, checkpoint_dir=tmp_path / "full", signature="s")

    class Interrupt(Exception):
        pass

    class StopAfter3(CountingProgress):
        def advance(self, n: int = 1) -> None:
            super().advance(n)
            if self.done == 3:
                raise Interrupt

    torch.manual_seed(0)
    part = make_classifier(x.shape[1], {"a": 3, "b": 2})
    with pytest.raises(Interrupt):
        trainer.fit(
            part, x, None, targets, train, val, options, checkpoint_dir=tmp_path / "p", signature="s",
            progress=StopAfter3(),
        )  # fmt: skip
    resumed = make_classifier(x.shape[1], {"a": 3, "b": 2})
    ticks = CountingProgress()
    result = trainer.fit(
        resumed, x, None, targets, train, val, options, checkpoint_dir=tmp_path / "p", signature="s",
        resume=True, progress=ticks,
    )  # fmt: skip
    assert result.epochs_run == 6 and len(result.history) == 6
    assert ticks.done == 6  # the 3 epochs already done are reported first
    for key, value in full.net.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[key], value)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(NotReadyError, match="train attributes"):
        AttributeClassifier.load(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"format": "something else"}, bad)
    with pytest.raises(InvalidInputError, match=r"not a fashionlens\.attributes/1 checkpoint"):
        AttributeClassifier.load(bad)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(InvalidInputError, match="cannot read checkpoint"):
        AttributeClassifier.load(junk)


# -- split ----------------------------------------------------------------------------------------


def test_stratified_split_keeps_rare_classes_in_train() -> None:
    strata = ["Shirts"] * 50 + ["Jeans"] * 30 + ["Ties"] * 3 + [None] * 10
    keep, held = stratified_split(strata, 0.2, seed=0, rare=5)
    assert not set(keep) & set(held)
    assert len(keep) + len(held) == len(strata)
    assert "Ties" not in {strata[i] for i in held}  # 3 < 5: rare classes stay in train
    assert sum(strata[i] is None for i in held) == 2  # rows without the label are one stratum
    assert sum(strata[i] == "Shirts" for i in held) == 10
    assert sum(strata[i] == "Jeans" for i in held) == 6
    again, _ = stratified_split(strata, 0.2, seed=0, rare=5)
    np.testing.assert_array_equal(keep, again)


# -- colour descriptor -----------------------------------------------------------------------------


def test_lab_conversion_reference_values() -> None:
    lab = rgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]], np.uint8))
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.1)  # sRGB red, D65


def test_colour_descriptor_ignores_the_background() -> None:
    canvas = np.full((100, 100, 3), 255, np.uint8)
    red, blue = canvas.copy(), canvas.copy()
    red[30:70, 30:70] = (200, 20, 20)
    blue[20:80, 40:60] = (20, 40, 200)
    d_red, d_blue = colour_descriptor(Image.fromarray(red)), colour_descriptor(Image.fromarray(blue))
    assert d_red.shape == (DIM,) and d_red.dtype == np.float32
    assert d_red[-2] > 0.5 and d_blue[-1] < -0.5  # mean a* (red) and b* (blue), scaled by 1/50
    white = colour_descriptor(Image.fromarray(canvas))  # a white shirt on white: every pixel counts
    assert white[-3] == pytest.approx(1.0, abs=0.01)  # mean L* 100 -> 1


def test_save_load_with_extra_features(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    torch.manual_seed(5)
    clf = make_classifier(12, {"colour": 4, "season": 3}, extra_dim=5, extra_hidden=6)
    x, extra = l2(rng.normal(size=(9, 12))), rng.normal(size=(9, 5)).astype(np.float32)
    loaded = AttributeClassifier.load(clf.save(tmp_path / "m.pt"))
    assert loaded.config.extra_hidden == 6 and loaded.config.extra_heads == ("colour",)
    for name in clf.heads:
        np.testing.assert_array_equal(
            loaded.predict(x, extra).probabilities[name], clf.predict(x, extra).probabilities[name]
        )
    # the colour head really uses the extra features; the other head does not see them
    moved = loaded.predict(x, extra + 3.0)
    assert not np.allclose(moved.probabilities["colour"], clf.predict(x, extra).probabilities["colour"])
    np.testing.assert_array_equal(
        moved.probabilities["season"], clf.predict(x, extra).probabilities["season"]
    )
