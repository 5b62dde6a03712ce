"""The web app in real headless Chromium: upload -> predictions, search gallery, catalogue browser,
webcam with a fake camera (the shared video as Y4M) -> the overlay drawn where the person is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

VIDEO = "video/one-by-one-person-detection.mp4"
FRAME, HAND_BOX = 810, (362, 32, 495, 378)  # a person, boxed by hand (tests/integration/jobs/test_video.py)


def test_upload_shows_predictions_colours_overlay_and_similar(web_server: str, page, shared_data: Path,
                                                              screenshot) -> None:  # fmt: skip
    page.goto(f"{web_server}/#upload")
    page.wait_for_selector("#status.ready", timeout=60_000)
    product = shared_data / "products" / "images" / "21379.jpg"
    street = shared_data / "ccp" / "photos" / "0001.jpg"
    page.set_input_files("#upload-input", [str(product), str(street)])
    page.wait_for_function("document.querySelectorAll('.result[data-done]').length === 2", timeout=120_000)
    every_card_has_similar = (
        "[...document.querySelectorAll('.result')].every(r => r.querySelectorAll('.similar .hit').length)"
    )
    page.wait_for_function(every_card_has_similar, timeout=60_000)
    cards = page.locator(".result")
    street_card, product_card = cards.nth(0), cards.nth(1)  # newest first
    assert product_card.locator("h3.name").inner_text() == "21379.jpg"
    rows = product_card.locator(".prediction-row")
    assert rows.count() == 5
    article = product_card.locator('.prediction-row[data-head="articleType"] td.label').inner_text()
    assert article == "Track Pants"
    width = product_card.locator('.prediction-row[data-head="articleType"] .bar > span').evaluate(
        "el => el.getBoundingClientRect().width"
    )
    assert width > 0
    assert "black" in product_card.locator(".swatches").inner_text()
    assert street_card.locator(".overlay-img").is_visible()
    assert "1 people" in street_card.locator(".category").inner_text()
    first_similar = product_card.locator(".similar .hit img").first
    first_similar.wait_for()
    assert first_similar.evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot(page, "upload.png", readme=True)


def test_search_gallery_and_click_to_search_from_a_result(web_server: str, page, screenshot) -> None:
    page.goto(f"{web_server}/#search")
    page.fill("#search-text", "a photo of a watch")
    page.press("#search-text", "Enter")
    page.wait_for_function("document.querySelectorAll('#gallery .hit').length >= 5", timeout=60_000)
    labels = page.locator("#gallery .hit span").all_inner_texts()
    assert sum("Watches" in label for label in labels) >= 3
    first = page.locator("#gallery .hit").first
    query_id = first.get_attribute("data-image-id")
    first.click()
    page.wait_for_function(f"document.querySelector('#search-title').dataset.query === '{query_id}'")
    page.wait_for_function(
        f"document.querySelectorAll('#gallery .hit').length > 0 && "
        f"![...document.querySelectorAll('#gallery .hit')].some(h => h.dataset.imageId === '{query_id}')",
        timeout=60_000,
    )
    screenshot(page, "search.png")


def test_catalogue_browser_filters(web_server: str, page, screenshot) -> None:
    page.goto(f"{web_server}/#catalogue")
    page.wait_for_function("document.querySelectorAll('#browse-grid .hit').length > 0", timeout=60_000)
    page.wait_for_function("document.querySelector('#browse-category').options.length > 1")
    page.select_option("#browse-source", "street")
    page.click("#browse-form button[type=submit]")
    page.wait_for_function(
        "document.querySelector('#browse-page').textContent.endsWith('of 6')", timeout=30_000
    )
    assert page.locator("#browse-grid .hit").count() == 6
    screenshot(page, "catalogue.png")


def _write_y4m(shared_data: Path, path: Path, frames: int = 20) -> tuple[int, int]:
    """The shared clip's frame `FRAME`, repeated, as a Y4M file Chromium can play as a camera."""
    import cv2

    from fashionlens.ingest.video import read_video_frames

    rgb = next(f.rgb for f in read_video_frames(shared_data / VIDEO, every=FRAME) if f.frame_index == FRAME)
    h, w = rgb.shape[:2]
    i420 = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420).tobytes()
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + i420)
    return w, h


def test_webcam_overlay_is_drawn_where_the_person_is(web_server: str, launch, shared_data: Path,
                                                     tmp_path: Path, screenshot) -> None:  # fmt: skip
    pytest.importorskip("cv2")
    y4m = tmp_path / "camera.y4m"
    width, height = _write_y4m(shared_data, y4m)
    browser = launch(
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
    )
    try:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(f"{web_server}/#webcam")
        page.wait_for_selector("#status.ready", timeout=60_000)
        page.click("#webcam-start")
        page.wait_for_function("Number(document.querySelector('#overlay-unet').dataset.frames || 0) >= 2",
                               timeout=90_000)  # fmt: skip
        size = page.evaluate("[document.querySelector('#webcam-video').videoWidth, "
                             "document.querySelector('#webcam-video').videoHeight]")  # fmt: skip
        assert size == [width, height]
        alpha = np.asarray(
            page.evaluate(
                """() => {
                const c = document.querySelector('#overlay-unet');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                const a = new Array(c.width * c.height);
                for (let i = 0; i < a.length; i++) a[i] = d[i * 4 + 3];
                return a;
            }"""
            ),
            dtype=np.uint8,
        ).reshape(height, width)
        screenshot(page, "webcam.png")
    finally:
        browser.close()
    drawn = alpha > 0
    x1, y1, x2, y2 = HAND_BOX
    inside = np.zeros_like(drawn)
    inside[y1:y2, x1:x2] = True
    mx, my = round(0.15 * (x2 - x1)), round(0.15 * (y2 - y1))
    near = np.zeros_like(drawn)
    near[max(0, y1 - my) : y2 + my, max(0, x1 - mx) : x2 + mx] = True
    assert drawn.sum() > 0, "nothing drawn over the video"
    assert (drawn & inside).sum() >= 0.25 * inside.sum(), "the person's box is mostly not covered"
    assert (drawn & near).sum() >= 0.85 * drawn.sum(), "overlay pixels drawn away from the person"
    assert drawn[:, : x1 // 2].sum() <= 0.02 * drawn.sum(), "overlay drawn in the empty left of the frame"


def test_webcam_shows_unet_and_mask_rcnn_side_by_side(
    catalogue_home: Path, launch, start_server, shared_data: Path, tmp_path: Path, screenshot
) -> None:
    pytest.importorskip("cv2")
    y4m = tmp_path / "camera.y4m"
    _write_y4m(shared_data, y4m, frames=10)
    log = tmp_path / "serve.log"
    # the Mask R-CNN the package ships, offline, as a user starts it
    with start_server(catalogue_home, log, "--maskrcnn", "shipped", models="unet") as base:
        browser = launch(
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m}",
        )
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 700}).new_page()
            page.goto(f"{base}/#webcam")
            page.wait_for_selector("#status.ready", timeout=60_000)
            page.wait_for_selector("#view-maskrcnn:not([hidden])", timeout=30_000)
            page.click("#webcam-start")
            for model_name in ("unet", "maskrcnn"):
                page.wait_for_function(
                    f"Number(document.querySelector('#overlay-{model_name}').dataset.frames || 0) >= 1",
                    timeout=90_000,
                )
            assert page.locator("#caption-maskrcnn").inner_text().endswith("ms")
            mirrored = page.evaluate(
                """() => {
                    const c = document.querySelector('#mirror-maskrcnn');
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let lit = 0;
                    for (let i = 0; i < d.length; i += 4) lit += d[i] + d[i + 1] + d[i + 2] > 0;
                    return lit / (d.length / 4);
                }"""
            )
            assert mirrored > 0.9  # the Mask R-CNN panel shows the camera frame under its masks
            screenshot(page, "webcam_side_by_side.png")
        finally:
            browser.close()
