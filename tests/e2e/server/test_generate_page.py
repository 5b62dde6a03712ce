"""The web app's Generate page in real headless Chromium against one real `fashionlens serve` with
no start-up models (the shipped DCGAN loads on the first request): the selects fill from
``/v1/generate/options``, a click shows the grid as a PNG data URL of the size the server says."""

from __future__ import annotations

from pathlib import Path


def test_generate_page_shows_the_generated_grid(start_server, page, tmp_path: Path, screenshot) -> None:
    # FASHIONLENS_SERVE_MODELS="," is the empty list: nothing loads at start-up, /ready is 200 at once
    with start_server(tmp_path / "home", tmp_path / "serve.log", models=",") as base:
        page.goto(f"{base}/#generate")
        assert page.locator("#page-generate").is_visible()
        assert page.locator("#nav a[data-page=generate]").get_attribute("class") == "active"
        page.wait_for_selector("#generate-form[data-ready]", timeout=60_000)
        labels = page.locator("#generate-label option").all_inner_texts()
        assert "Tshirts" in labels and len(labels) > 10
        assert "blue" in page.locator("#generate-colour option").all_inner_texts()

        page.select_option("#generate-label", "Tshirts")
        page.select_option("#generate-colour", "blue")
        page.fill("#generate-n", "9")
        page.fill("#generate-seed", "4")
        page.fill("#generate-scale", "1")
        page.click("#generate-button")
        page.wait_for_function(
            "document.querySelector('#generate-image').src.startsWith('data:image/png;base64,')"
            " && document.querySelector('#generate-image').complete",
            timeout=60_000,
        )
        image = page.locator("#generate-image")
        assert image.is_visible()
        size = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert size == [3 * 66 + 2, 3 * 66 + 2]  # 3x3 tiles of 64 px, 2 px of padding
        assert "Tshirts / blue" in page.locator("#generate-info").inner_text()

        page.check("#generate-interpolate")
        page.fill("#generate-n", "5")
        page.click("#generate-button")
        page.wait_for_function(
            "document.querySelector('#generate-info').textContent.startsWith('5 frames')"
            " && document.querySelector('#generate-image').complete",
            timeout=60_000,
        )
        strip = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert strip == [5 * 66 + 2, 66 + 2]  # one row of 5 frames
        assert image.get_attribute("src").startswith("data:image/png;base64,")
        screenshot(page, "generate.png")
