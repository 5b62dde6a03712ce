"""Dominant colour naming on synthetic images: Lab conversion, background, masks, names, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from fashionlens.cli.colour import colour
from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import colour_names
from fashionlens.models.colour.naming import (
    ColourShare,
    baseline_colour,
    dominant_colours,
    foreground_mask,
    lab_to_srgb,
    name_lab,
    palette,
    srgb_to_lab,
)

WHITE = (255, 255, 255)


def canvas(h: int = 64, w: int = 64, fill: tuple[int, int, int] = WHITE) -> np.ndarray:
    return np.full((h, w, 3), fill, dtype=np.uint8)


def names(shares: list[ColourShare]) -> list[str]:
    return [s.name for s in shares]


# -- sRGB <-> Lab ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rgb", "lab"),
    [  # D65, 2 degree observer; published reference values (Lindbloom's calculator, encycolorpedia)
        ((255, 255, 255), (100.0, 0.0, 0.0)),
        ((0, 0, 0), (0.0, 0.0, 0.0)),
        ((255, 0, 0), (53.2408, 80.0925, 67.2032)),
        ((0, 255, 0), (87.7347, -86.1827, 83.1793)),
        ((0, 0, 255), (32.2970, 79.1875, -107.8602)),
        ((128, 128, 128), (53.5850, 0.0, 0.0)),
        ((255, 255, 0), (97.1393, -21.5537, 94.4780)),
        ((0, 128, 128), (48.2541, -28.8463, -8.4769)),
    ],
)
def test_srgb_to_lab_known_values(rgb: tuple[int, int, int], lab: tuple[float, float, float]) -> None:
    np.testing.assert_allclose(srgb_to_lab(np.array(rgb)), lab, atol=2e-3)


def test_srgb_to_lab_agrees_with_opencv() -> None:
    cv2 = pytest.importorskip("cv2")
    rgb = np.random.default_rng(0).integers(0, 256, size=(1, 500, 3))
    theirs = cv2.cvtColor((rgb / 255.0).astype(np.float32), cv2.COLOR_RGB2Lab)
    # OpenCV's float path tabulates the sRGB curve: agreement to a few tenths, not to the last digit
    np.testing.assert_allclose(srgb_to_lab(rgb), theirs, atol=0.3)


def test_lab_round_trip_and_shapes() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, size=(7, 5, 3))
    lab = srgb_to_lab(rgb)
    assert lab.shape == (7, 5, 3)
    np.testing.assert_allclose(lab_to_srgb(lab), rgb, atol=1e-6)
    assert srgb_to_lab(rgb.astype(np.uint8)).dtype == np.float64
    with pytest.raises(InvalidInputError, match=r"\(\.\.\., 3\)"):
        srgb_to_lab(np.zeros((4, 2)))


def test_palette_covers_every_name_and_prototypes_name_themselves() -> None:
    pal = palette()
    assert set(pal.names) == set(colour_names())
    # a prototype is named after its own list unless it is so grey that the achromatic rule takes it
    chroma = np.hypot(pal.lab[:, 1], pal.lab[:, 2])
    got = name_lab(pal.lab)
    for name, label, c, g in zip(pal.names, pal.labels, chroma, got, strict=True):
        if c >= pal.achromatic["max_chroma"]:
            assert g == name, f"prototype {label} of {name} is named {g}"


# -- names of pure colours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rgb", "expected"),
    [
        ((0, 0, 0), "black"),
        ((30, 30, 30), "black"),
        ((128, 128, 128), "grey"),
        ((190, 190, 190), "grey"),
        ((250, 250, 250), "white"),
        ((220, 20, 30), "red"),
        ((120, 10, 20), "red"),  # maroon
        ((20, 40, 180), "blue"),
        ((25, 35, 80), "blue"),  # navy
        ((150, 190, 230), "blue"),  # light blue
        ((30, 150, 50), "green"),
        ((110, 110, 40), "green"),  # olive
        ((250, 140, 0), "orange"),
        ((250, 230, 20), "yellow"),
        ((255, 150, 190), "pink"),
        ((230, 0, 140), "pink"),  # magenta
        ((110, 40, 150), "purple"),
        ((110, 60, 20), "brown"),
        ((215, 190, 150), "brown"),  # beige / tan
    ],
)
def test_pure_colours_get_their_name(rgb: tuple[int, int, int], expected: str) -> None:
    image = canvas(fill=rgb)
    got = dominant_colours(image, background="none")
    assert names(got) == [expected]
    assert got[0].share == pytest.approx(1.0)
    assert got[0].rgb == pytest.approx(rgb, abs=1)
    assert name_lab(srgb_to_lab(np.array(rgb))) == [expected]


# -- background ------------------------------------------------------------------------------------


def test_red_square_on_white_background_is_red_only() -> None:
    image = canvas(100, 80)
    image[30:70, 20:60] = (200, 20, 30)
    got = dominant_colours(image)
    assert names(got) == ["red"]
    assert got[0].share == pytest.approx(1.0)
    fg = foreground_mask(image)
    # the square minus the shaved halo; no background pixel is kept
    assert fg.sum() <= 40 * 40 and not fg[:30].any() and not fg[:, 60:].any()
    # without background removal (and without the centre weighting) the white canvas wins
    assert dominant_colours(image, background="none", centre_sigma=None)[0].name == "white"


def test_white_garment_inside_an_outline_is_kept() -> None:
    """A white shirt with a darker seam around it: the seam stops the flood fill, the shirt is white."""
    image = canvas(100, 100)
    image[20:80, 25:75] = (90, 90, 90)  # outline
    image[23:77, 28:72] = WHITE  # white fabric, not connected to the border
    got = dominant_colours(image)
    assert got[0].name == "white" and got[0].share > 0.6
    assert "grey" in names(got) or "black" in names(got)


@pytest.mark.parametrize("shirt", [(255, 255, 255), (248, 248, 246), (236, 236, 232)])
def test_white_shirt_surrounded_by_white_is_white(shirt: tuple[int, int, int]) -> None:
    """Expected: white with share ~1. An off-white shirt is not background (the studio is pure white,
    so it survives the flood fill); a pure white one cannot be told from the background, everything
    is removed, and the fallback uses all pixels, which are white."""
    image = canvas(120, 100)
    image[20:100, 30:70] = shirt  # body
    image[20:45, 10:90] = shirt  # sleeves
    got = dominant_colours(image)
    assert names(got) == ["white"]
    assert got[0].share == pytest.approx(1.0)
    assert baseline_colour(image) == "white"


def test_street_photo_keeps_everything_in_auto_mode() -> None:
    image = canvas(60, 60, fill=(40, 120, 40))  # a green, non-studio border
    image[20:40, 20:40] = WHITE
    assert foreground_mask(image, "auto").all()
    assert foreground_mask(image, "white").all()  # the white square does not touch the border
    got = dominant_colours(image)
    assert got[0].name == "green" and names(got) == ["green", "white"]
    assert sum(s.share for s in got) == pytest.approx(1.0)


# -- masks -----------------------------------------------------------------------------------------


def test_mask_selects_one_half() -> None:
    image = canvas(40, 80)
    image[:, :40] = (20, 40, 180)  # blue left
    image[:, 40:] = (30, 150, 50)  # green right
    mask = np.zeros((40, 80), dtype=bool)
    mask[:, 40:] = True
    got = dominant_colours(image, mask)
    assert names(got) == ["green"] and got[0].share == pytest.approx(1.0)
    assert names(dominant_colours(image, ~mask)) == ["blue"]
    assert baseline_colour(image, mask) == "green"
    both = dominant_colours(image, background="none", centre_sigma=None)
    assert sorted(names(both)) == ["blue", "green"]
    assert [s.share for s in both] == pytest.approx([0.5, 0.5], abs=0.01)


def test_mask_may_be_uint8_and_h_w_1() -> None:
    image = canvas(10, 10, fill=(220, 20, 30))
    mask = np.zeros((10, 10, 1), dtype=np.uint8)
    mask[2:5, 2:5] = 255
    assert names(dominant_colours(image, mask)) == ["red"]


def test_empty_mask_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="mask selects no pixels"):
        dominant_colours(canvas(), np.zeros((64, 64), dtype=bool))


def test_mask_shape_mismatch_is_an_error() -> None:
    with pytest.raises(
        InvalidInputError, match=r"mask shape \(64, 32\) does not match the image: expected \(64, 64\)"
    ):
        dominant_colours(canvas(), np.ones((64, 32), dtype=bool))
    with pytest.raises(InvalidInputError, match="mask shape"):
        baseline_colour(canvas(), np.ones((32, 64), dtype=bool))


# -- input kinds -----------------------------------------------------------------------------------


def test_shares_sum_to_one_and_are_sorted() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(50, 50, 3), dtype=np.uint8)
    got = dominant_colours(image, k=6)
    assert sum(s.share for s in got) == pytest.approx(1.0)
    assert [s.share for s in got] == sorted((s.share for s in got), reverse=True)
    assert len(set(names(got))) == len(got) <= 6
    assert got == dominant_colours(image, k=6)  # seeded: same answer twice


@pytest.mark.parametrize(
    ("mode", "fill", "expected"),
    [
        ("L", (128, 128, 128), "grey"),
        ("RGBA", (200, 20, 30), "red"),
        ("CMYK", (200, 20, 30), "red"),
        ("P", (200, 20, 30), "red"),
        ("1", (255, 255, 255), "white"),
        ("I;16", (20, 20, 20), "black"),
    ],
)
def test_pil_modes(mode: str, fill: tuple[int, int, int], expected: str) -> None:
    image = Image.new("RGB", (20, 20), fill).convert(mode)
    assert dominant_colours(image)[0].name == expected


def test_transparent_pixels_are_white_background() -> None:
    rgba = np.zeros((40, 40, 4), dtype=np.uint8)  # fully transparent ...
    rgba[10:30, 10:30] = (20, 40, 180, 255)  # ... around an opaque blue square
    got = dominant_colours(rgba)
    assert names(got) == ["blue"]


def test_grayscale_and_float_arrays() -> None:
    assert names(dominant_colours(np.full((8, 8), 20, dtype=np.uint8))) == ["black"]
    assert names(dominant_colours(np.full((8, 8, 3), 0.5), background="none")) == ["grey"]


def test_one_pixel_images() -> None:
    assert names(dominant_colours(np.array([[[200, 20, 30]]], dtype=np.uint8))) == ["red"]
    assert names(dominant_colours(np.array([[[255, 255, 255]]], dtype=np.uint8))) == ["white"]
    assert baseline_colour(np.array([[[200, 20, 30]]], dtype=np.uint8)) == "red"


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((0, 5, 3), dtype=np.uint8), "image is empty"),
        (np.zeros((5, 5, 2), dtype=np.uint8), "must be"),
        (np.zeros((5,), dtype=np.uint8), "must be"),
        (np.full((5, 5, 3), 300, dtype=np.int32), r"values must be in \[0, 255\]"),
        (np.full((5, 5, 3), 2.0), r"values must be in \[0, 1\]"),
        (np.full((5, 5, 3), np.nan), "NaN"),
        (np.zeros((5, 5, 3), dtype=bool), "must hold numbers"),
    ],
)
def test_bad_images(image: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        dominant_colours(image)


def test_bad_arguments(tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="k must be a positive integer"):
        dominant_colours(canvas(), k=0)
    with pytest.raises(InvalidInputError, match="background must be one of"):
        dominant_colours(canvas(), background="green")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="centre_sigma must be > 0"):
        dominant_colours(canvas(), centre_sigma=0.0)
    with pytest.raises(InvalidInputError, match="must hold numbers"):  # files go through open_rgb
        dominant_colours(tmp_path / "photo.jpg")


def test_colour_share_validates() -> None:
    with pytest.raises(InvalidInputError, match="colour name"):
        ColourShare("teal", 0.5, (50.0, 0.0, 0.0), (1, 2, 3))
    with pytest.raises(InvalidInputError, match="share"):
        ColourShare("red", 1.5, (50.0, 0.0, 0.0), (1, 2, 3))
    assert ColourShare("red", 0.5, (50.0, 0.0, 0.0), (255, 0, 16)).hex == "#ff0010"


# -- baseline --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rgb", "expected"),
    [
        ((10, 10, 10), "black"),
        ((128, 128, 128), "grey"),
        ((220, 20, 30), "red"),
        ((20, 40, 180), "blue"),
        ((30, 150, 50), "green"),
        ((250, 230, 20), "yellow"),
        ((250, 140, 0), "orange"),
        ((110, 40, 150), "purple"),
        ((110, 60, 20), "brown"),
        ((255, 150, 190), "pink"),
    ],
)
def test_baseline_on_pure_colours(rgb: tuple[int, int, int], expected: str) -> None:
    assert baseline_colour(canvas(fill=rgb)) == expected


# -- CLI -------------------------------------------------------------------------------------------


def test_cli_prints_colours_and_json(tmp_path) -> None:
    app = typer.Typer()
    app.command()(colour)
    image = canvas(60, 60)
    image[10:50, 10:50] = (200, 20, 30)
    path = tmp_path / "red.png"
    Image.fromarray(image).save(path)
    runner = CliRunner()
    out = runner.invoke(app, [str(path)])
    assert out.exit_code == 0, out.output
    assert "red" in out.output and "100%" in out.output
    out = runner.invoke(app, [str(path), "--json-out", "--k", "2"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data[0]["image"] == str(path) and data[0]["colours"][0]["name"] == "red"
    assert data[0]["colours"][0]["share"] == pytest.approx(1.0)
    bad = runner.invoke(app, [str(path), str(tmp_path / "missing.png")])
    assert bad.exit_code == 1 and "missing.png: file not found" in bad.output
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    bad = runner.invoke(app, [str(tmp_path / "bad.jpg")])
    assert bad.exit_code == 1 and "bad.jpg: not an image" in bad.output


def test_colours_from_many_threads_leave_the_blas_pool_as_it_was() -> None:
    """The segment job names garment colours on one thread per core; the k-means inside limits
    BLAS to one thread, and interleaved limits once left it there for the rest of the process."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import ThreadpoolController

    from fashionlens.models.colour.naming import dominant_colours

    def blas_threads() -> list[int]:
        return sorted(
            lib["num_threads"] for lib in ThreadpoolController().info() if lib["user_api"] == "blas"
        )

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (60, 40, 3), dtype=np.uint8) for _ in range(80)]
    dominant_colours(images[0], k=3)  # loads sklearn's libraries before the first count
    before = blas_threads()
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda im: dominant_colours(im, k=3), images))
    assert blas_threads() == before
    assert threaded == [dominant_colours(im, k=3) for im in images]  # the same colours as in series
