"""Image -> model input: every PIL mode becomes RGB; resize + crop match torchvision exactly."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fashionlens.core.errors import InvalidInputError
from fashionlens.models.backbones.preprocess import preprocess_uint8, resize_center_crop, to_rgb


def _palette_with_transparency() -> Image.Image:
    im = Image.new("P", (10, 10), 0)
    im.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    im.info["transparency"] = 0
    return im


@pytest.mark.parametrize(
    ("image", "center_rgb"),
    [
        (Image.new("RGB", (10, 10), (1, 2, 3)), (1, 2, 3)),
        (Image.new("L", (10, 10), 77), (77, 77, 77)),
        (Image.new("1", (10, 10), 1), (255, 255, 255)),
        (Image.new("LA", (10, 10), (0, 0)), (255, 255, 255)),  # fully transparent -> white
        (Image.new("RGBA", (10, 10), (10, 20, 30, 255)), (10, 20, 30)),
        (Image.new("RGBA", (10, 10), (10, 20, 30, 0)), (255, 255, 255)),
        (Image.new("CMYK", (10, 10), (0, 0, 0, 0)), (255, 255, 255)),
        (Image.new("P", (10, 10), 0), (0, 0, 0)),
        (_palette_with_transparency(), (255, 255, 255)),
        (Image.new("I;16", (10, 10), 4000), (0, 0, 0)),  # flat 16-bit: no range to stretch
        (Image.new("F", (10, 10), 0.5), (0, 0, 0)),
        (Image.new("YCbCr", (10, 10), (128, 128, 128)), None),
        (np.full((10, 10), 9, dtype=np.uint8), (9, 9, 9)),
        (np.zeros((10, 10, 4), dtype=np.uint8), (255, 255, 255)),
    ],
    ids=["RGB", "L", "1", "LA", "RGBA-opaque", "RGBA-clear", "CMYK", "P", "P-transparent", "I16", "F",
         "YCbCr", "array-gray", "array-rgba"],
)  # fmt: skip
def test_to_rgb_handles_every_mode(image: object, center_rgb: tuple[int, int, int] | None) -> None:
    rgb = to_rgb(image)
    assert rgb.mode == "RGB"
    assert rgb.size == (10, 10)
    if center_rgb is not None:
        assert rgb.getpixel((5, 5)) == center_rgb


def test_sixteen_bit_gradient_is_stretched() -> None:
    arr = np.linspace(0, 4000, 100, dtype=np.uint16).reshape(10, 10)
    image = Image.fromarray(arr)
    assert image.mode.startswith("I")
    rgb = np.asarray(to_rgb(image))
    assert rgb.min() == 0 and rgb.max() == 255


@pytest.mark.parametrize(
    "bad", [None, "not/a/file.jpg", np.zeros((4, 4), dtype=np.float32), np.zeros((2, 2, 2), np.uint8)]
)
def test_bad_inputs_raise_invalid_input(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        preprocess_uint8([bad], 256, 224)


@pytest.mark.parametrize("size_wh", [(400, 533), (534, 400), (224, 224), (8, 8), (1000, 999), (301, 1203)])
@pytest.mark.parametrize(("resize", "interp"), [(256, "bilinear"), (232, "bilinear"), (224, "bicubic")])
def test_resize_crop_matches_torchvision(size_wh: tuple[int, int], resize: int, interp: str) -> None:
    from torchvision import transforms as T

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (size_wh[1], size_wh[0], 3), dtype=np.uint8))
    mode = T.InterpolationMode.BILINEAR if interp == "bilinear" else T.InterpolationMode.BICUBIC
    reference = T.CenterCrop(224)(T.Resize(resize, interpolation=mode)(image))
    ours = resize_center_crop(image, resize, 224, interp)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(reference))


@pytest.mark.parametrize("size_wh", [(1, 4000), (3000, 2), (2000, 300)])
def test_extreme_aspect_ratio_stays_small(size_wh: tuple[int, int]) -> None:
    out = preprocess_uint8([Image.new("RGB", size_wh, (5, 6, 7))], 256, 224)
    assert out.shape == (1, 224, 224, 3)
    assert (out[0, 112, 112] == (5, 6, 7)).all()
