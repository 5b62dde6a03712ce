"""``POST /v1/generate`` and ``GET /v1/generate/options`` with the shipped conditional DCGAN, on an
app with no start-up models (the generator loads on first use): the grid's PNG size and layout,
the same bytes as the library's own grid, seeds, labels and colours, interpolation, bad values."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

TILE, PAD = 64, 2


@pytest.fixture(scope="module")
def gen_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from fashionlens.core.settings import Settings
    from fashionlens.server.app import create_app
    from fashionlens.server.config import ServerConfig

    home = tmp_path_factory.mktemp("generate_home")
    app = create_app(Settings(home=home), ServerConfig(models=(), load_in_background=False))
    with TestClient(app) as client:
        yield client


def _png(body: dict[str, Any]) -> Image.Image:
    data = base64.b64decode(body["png"])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _post(client: Any, **request: Any) -> dict[str, Any]:
    got = client.post("/v1/generate", json=request)
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


@pytest.mark.parametrize(("n", "scale", "columns", "rows"), [(16, 2, 4, 4), (5, 1, 3, 2), (1, 3, 1, 1)])
def test_grid_is_a_png_of_the_image_grid_layout(gen_client: Any, n: int, scale: int, columns: int,
                                                rows: int) -> None:  # fmt: skip
    body = _post(gen_client, n=n, scale=scale, seed=1)
    image = _png(body)
    width, height = (columns * (TILE + PAD) + PAD) * scale, (rows * (TILE + PAD) + PAD) * scale
    assert image.size == (width, height) == (body["width"], body["height"])
    assert image.mode == "RGB"
    layout = (body["columns"], body["rows"], body["tile"], body["padding"])
    assert layout == (columns, rows, TILE * scale, PAD * scale)
    assert body["n"] == n and len(body["conditions"]) == n
    assert body["model_id"] == "dcgan_cond.products"
    pixels = np.asarray(image)
    assert (pixels[: PAD * scale] == 255).all() and (pixels[:, : PAD * scale] == 255).all()  # the white frame
    first = pixels[PAD * scale : (PAD + TILE) * scale, PAD * scale : (PAD + TILE) * scale]
    assert first.std() > 5  # a generated image, not padding


def test_the_served_grid_is_the_generators_own_grid(gen_client: Any) -> None:
    from fashionlens.models.generators.dcgan import DCGANGenerator
    from fashionlens.render.gan import image_grid

    body = _post(gen_client, n=9, scale=1, seed=7, label="Watches")
    images, names = DCGANGenerator("shipped").generate(9, label="Watches", seed=7)
    served, own = np.asarray(_png(body)).astype(int), image_grid(images).astype(int)
    # the server runs torch with its own thread count: float sums in another order, +-1 grey level
    assert served.shape == own.shape and np.abs(served - own).max() <= 2
    assert np.abs(served - own).mean() < 0.05
    assert body["conditions"] == [{"label": label, "colour": colour} for label, colour in names]


def test_same_seed_same_bytes_other_seed_other_images(gen_client: Any) -> None:
    first = _post(gen_client, n=4, seed=11)
    again = _post(gen_client, n=4, seed=11)
    other = _post(gen_client, n=4, seed=12)
    assert first["png"] == again["png"] and first["conditions"] == again["conditions"]
    assert not np.array_equal(np.asarray(_png(first)), np.asarray(_png(other)))


def test_label_and_colour_change_the_output_and_are_echoed(gen_client: Any) -> None:
    free = _post(gen_client, n=8, seed=3)
    shirts = _post(gen_client, n=8, seed=3, label="tshirts")  # matched case-insensitively
    assert shirts["label"] == "Tshirts" and shirts["colour"] is None
    assert {c["label"] for c in shirts["conditions"]} == {"Tshirts"}
    assert not np.array_equal(np.asarray(_png(free)), np.asarray(_png(shirts)))
    blue = _post(gen_client, n=8, seed=3, label="Tshirts", colour="BLUE")
    assert blue["colour"] == "blue"
    assert all(c == {"label": "Tshirts", "colour": "blue"} for c in blue["conditions"])
    assert not np.array_equal(np.asarray(_png(blue)), np.asarray(_png(shirts)))


def test_interpolation_strip_and_its_condition(gen_client: Any) -> None:
    body = _post(gen_client, n=6, scale=1, seed=5, interpolate=True)
    image = _png(body)
    assert image.size == (6 * (TILE + PAD) + PAD, TILE + 2 * PAD)
    assert (body["columns"], body["rows"], body["n"]) == (6, 1, 6)
    assert len({json.dumps(c, sort_keys=True) for c in body["conditions"]}) == 1  # one condition per walk
    frames = np.asarray(image)
    first, last = frames[PAD : PAD + TILE, PAD : PAD + TILE], frames[PAD : PAD + TILE, -PAD - TILE : -PAD]
    assert not np.array_equal(first, last)
    # the CLI's `generate --interpolate` frames for the same seed
    from fashionlens.models.generators.dcgan import DCGANGenerator
    from fashionlens.render.gan import interpolation_strip

    assert np.array_equal(frames, interpolation_strip(DCGANGenerator("shipped").interpolate(6, seed=5)))
    # the reported condition is the one used: asking for it explicitly gives the same strip
    condition = body["conditions"][0]
    same = _post(gen_client, n=6, scale=1, seed=5, interpolate=True, **condition)
    assert same["png"] == body["png"]
    assert _post(gen_client, n=1, scale=1, interpolate=True)["n"] == 2  # a walk has two ends


@pytest.mark.parametrize(("field", "value"), [("label", "Spacesuits"), ("colour", "ultraviolet")])
def test_an_unknown_condition_is_a_422_naming_it_and_the_known_ones(gen_client: Any, field: str,
                                                                    value: str) -> None:  # fmt: skip
    got = gen_client.post("/v1/generate", json={"n": 4, field: value})
    assert got.status_code == 422, got.text
    body = got.json()
    assert body["status"] == "error"
    assert value in body["error"] and field in body["error"]
    assert ("Tshirts" if field == "label" else "blue") in body["error"]


@pytest.mark.parametrize(
    "request_body",
    [{"n": 0}, {"n": 65}, {"scale": 0}, {"scale": 5}, {"seed": -1}, {"n": "4"}, {"interpolate": "yes"},
     {"label": ""}, {"size": 4}],
)  # fmt: skip
def test_values_out_of_range_are_422(gen_client: Any, request_body: dict[str, Any]) -> None:
    got = gen_client.post("/v1/generate", json=request_body)
    assert got.status_code == 422, got.text
    assert got.json()["status"] == "error" and got.json()["error"].startswith("invalid request")


def test_options_list_the_shipped_classes(gen_client: Any) -> None:
    from fashionlens.models.generators.dcgan import SHIPPED_CARD

    got = gen_client.get("/v1/generate/options")
    assert got.status_code == 200, got.text
    body = got.json()
    card = json.loads(Path(SHIPPED_CARD).read_text(encoding="utf-8"))
    assert body["labels"] == card["labels"] and body["colours"] == card["colours"]
    assert {"Tshirts", "Casual Shoes", "Watches"} <= set(body["labels"]) and "blue" in body["colours"]
    assert body["model_id"] == "dcgan_cond.products"
    assert (body["image_size"], body["max_n"], body["max_scale"]) == (64, 64, 4)
    for label in body["labels"][:3]:  # every listed label is accepted
        assert {c["label"] for c in _post(gen_client, n=2, scale=1, label=label)["conditions"]} == {label}


def test_openapi_documents_the_routes(gen_client: Any) -> None:
    paths = gen_client.get("/openapi.json").json()["paths"]
    post = paths["/v1/generate"]["post"]
    assert {"200", "400", "422", "503", "504"} <= set(post["responses"])
    assert "get" in paths["/v1/generate/options"]
