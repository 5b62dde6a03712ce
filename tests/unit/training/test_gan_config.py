"""GAN training's pure parts: held-out split, seed-002 padding, condition classes, config checks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fashionlens.core.errors import InvalidInputError
from fashionlens.training.gan import (
    OTHER,
    GANConfig,
    GANData,
    catalogue_square,
    condition_classes,
    encode,
    held_out_mask,
    joint_counts,
    to_training_image,
)


def test_held_out_mask_is_deterministic_and_sized() -> None:
    keys = [str(i) for i in range(20000)]
    a, b = held_out_mask(keys, 0.1), held_out_mask(keys, 0.1)
    assert np.array_equal(a, b)
    assert 0.09 < a.mean() < 0.11
    # a bigger fraction keeps every key the smaller one held out
    assert (held_out_mask(keys, 0.2) | ~a).all()


def test_catalogue_square_pads_on_white() -> None:
    tall = np.zeros((100, 50, 3), np.uint8)  # a black, tall photo
    sq = catalogue_square(Image.fromarray(tall))
    assert sq.size == (256, 256)
    arr = np.asarray(sq)
    assert (arr[:, :60] == 255).all() and (arr[:, -60:] == 255).all()  # white borders left/right
    assert (arr[:, 100:156] == 0).all()  # the photo in the middle, full height
    small = to_training_image(tall)
    assert small.shape == (64, 64, 3) and small.dtype == np.uint8
    assert to_training_image(tall, grey=True).shape == (64, 64, 1)


def _data(labels: list[str], colours: list[str], held: list[bool]) -> GANData:
    n = len(labels)
    return GANData(
        np.zeros((n, 64, 64, 3), np.uint8),
        [str(i) for i in range(n)],
        labels,
        colours,
        np.array(held),
        "products",
    )


def test_condition_classes_from_training_images_only() -> None:
    labels = ["Tshirts"] * 5 + ["Shirts"] * 3 + ["Belts"] * 2 + ["Heels"] * 4
    colours = ["black"] * 6 + ["blue"] * 4 + [OTHER] * 4
    held = [False] * 10 + [True] * 4  # every Heels is held out: not a class
    data = _data(labels, colours, held)
    cfg = GANConfig(conditional="label+colour", top_labels=2)
    names, cols = condition_classes(data, cfg)
    assert names == ("Tshirts", "Shirts", OTHER)
    assert cols == ("black", "blue")  # only colours seen in training, in colour_names order
    li = encode(data.labels, names)
    assert li.tolist() == [0] * 5 + [1] * 3 + [2] * 6  # Belts and Heels are 'other'
    with pytest.raises(InvalidInputError, match="not one of"):
        encode(["purple"], cols)
    counts = joint_counts(li[:10], encode(data.colours[:10], cols), len(names), len(cols))
    assert counts.tolist() == [[5, 0], [1, 2], [0, 2]]
    assert condition_classes(data, GANConfig()) == ((), ())


def test_colour_conditions_need_the_catalogue() -> None:
    data = _data(["a", "b", "c", "d"], [OTHER] * 4, [False] * 4)
    data.source = "folder"
    with pytest.raises(InvalidInputError, match="colours"):
        condition_classes(data, GANConfig(data="x", conditional="colour"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"conditional": "style"}, "conditional"),
        ({"epochs": 0}, "epochs"),
        ({"holdout_fraction": 1.0}, "holdout_fraction"),
        ({"max_images": 2}, "max_images"),
        ({"beta1": 1.0}, "beta1"),
    ],
)
def test_config_checks(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        GANConfig(**kwargs)


def test_gan_data_checks_shapes() -> None:
    with pytest.raises(InvalidInputError, match="uint8"):
        GANData(np.zeros((2, 32, 32, 3), np.uint8), ["a", "b"], ["", ""], ["", ""], np.zeros(2, bool), "x")
    with pytest.raises(InvalidInputError, match="length"):
        GANData(np.zeros((2, 64, 64, 3), np.uint8), ["a"], ["", ""], ["", ""], np.zeros(2, bool), "x")
