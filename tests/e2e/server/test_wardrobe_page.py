"""The web app's Wardrobe page in real headless Chromium against one real `fashionlens serve` with an
API key set: two real CCP street photos digitised from the page (their garments become item cards
with the crop and the source photo), a class filter, an edit that survives a reload and is what the
API returns, a delete behind a confirm, and outfit suggestions drawn as rows of items."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx

KEY = "wardrobe-page-test-key"
PHOTOS = ("0001.jpg", "0002.jpg")  # one standing person each: 4 garments each with the shipped U-Net


def _cards(page) -> int:
    return int(page.locator("#wardrobe-items .item-card").count())


def _wait_cards(page, n: int) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('#wardrobe-items .item-card').length === {n}", timeout=30_000
    )


def test_wardrobe_page_digitise_filter_edit_delete_outfits(
    start_server, page, shared_data: Path, tmp_path: Path, screenshot
) -> None:
    photos = [str(shared_data / "ccp" / "photos" / name) for name in PHOTOS]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # nothing loads at start-up; the wardrobe loads its models on the first photo (hence --timeout)
    with start_server(tmp_path / "home", tmp_path / "serve.log", "--timeout", "240", models=",",
                      env_extra={"FASHIONLENS_API_KEY": KEY}) as base:  # fmt: skip
        page.goto(f"{base}/#wardrobe")
        assert page.locator("#page-wardrobe").is_visible()
        assert page.locator("#nav a[data-page=wardrobe]").get_attribute("class") == "active"
        assert page.locator("#page-slot").count() == 0  # the placeholder is gone
        page.wait_for_selector("#wardrobe-key-row", state="visible")  # the server says writes need a key
        page.wait_for_function("document.querySelector('#wardrobe-items').dataset.count === '0'")
        assert "empty" in page.locator("#wardrobe-items").inner_text()

        page.fill("#wardrobe-key", KEY)
        page.set_input_files("#wardrobe-input", photos)
        page.wait_for_function(
            "document.querySelector('#wardrobe-progress').dataset.done === '2'", timeout=200_000
        )
        assert page.locator("#wardrobe-progress-bar").evaluate("b => [b.value, b.max]") == [2, 2]
        per_photo = page.locator("#wardrobe-added li").evaluate_all("lis => lis.map(li => li.dataset.items)")
        assert len(per_photo) == 2 and all(v.isdigit() and int(v) >= 2 for v in per_photo), per_photo
        items = httpx.get(f"{base}/v1/wardrobe/items").json()["items"]
        n = len(items)
        assert n == sum(int(v) for v in per_photo)
        assert {Path(i["source_photo"]).parent.name for i in items} == {"photos"}
        _wait_cards(page, n)
        assert page.locator("#wardrobe-count").inner_text() == f"{n} items"
        assert page.locator("#wardrobe-progress-text").inner_text() == f"2 photos digitised: {n} new items"
        first = page.locator("#wardrobe-items .item-card").first
        for img in (first.locator("img.crop"), first.locator("a.source img")):
            img.scroll_into_view_if_needed()
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
        assert first.locator(".swatches .swatch").count() >= 1

        # filter by the rarest class: the count drops to that class's items
        by_class = Counter(i["category"] for i in items)
        rare, k = min(by_class.items(), key=lambda kv: (kv[1], kv[0]))
        assert k < n
        page.select_option("#wardrobe-category", rare)
        _wait_cards(page, k)
        assert page.locator("#wardrobe-count").inner_text() == f"{k} of {n} items match"
        classes = page.locator("#wardrobe-items .item-class").all_inner_texts()
        assert all(c.split(" · ")[0] == rare for c in classes), classes
        page.select_option("#wardrobe-category", "")
        _wait_cards(page, n)

        # edit one item: notes and status; the change is in the page after a reload and in the API
        target = items[0]
        card = page.locator(f'.item-card[data-item-id="{target["item_id"]}"]')
        assert card.locator("form.edit-form").is_hidden()  # the form opens on Edit
        card.locator("button.edit").click()
        assert card.locator("form.edit-form").is_visible()
        card.scroll_into_view_if_needed()
        screenshot(page, "wardrobe_edit.png")
        card.locator("textarea[name=notes]").fill("bought in Lisbon")
        card.locator("select[name=status]").select_option("wishlist")
        card.locator("button.save").click()
        notes = f'.item-card[data-item-id="{target["item_id"]}"] dd[data-field=notes]'
        page.wait_for_function(
            "sel => (document.querySelector(sel) || {}).textContent === 'bought in Lisbon'",
            arg=notes,
            timeout=30_000,
        )
        page.reload()
        _wait_cards(page, n)
        card = page.locator(f'.item-card[data-item-id="{target["item_id"]}"]')
        assert card.locator("dd[data-field=notes]").inner_text() == "bought in Lisbon"
        assert card.locator("dd[data-field=status]").inner_text() == "wishlist"
        stored = httpx.get(f"{base}/v1/wardrobe/items/{target['item_id']}").json()["item"]
        assert stored["notes"] == "bought in Lisbon" and stored["status"] == "wishlist"
        assert stored["version"] > target["version"]
        page.select_option("#wardrobe-status", "wishlist")
        _wait_cards(page, 1)
        page.select_option("#wardrobe-status", "")
        _wait_cards(page, n)

        # delete another item behind a confirm (the API without the key refuses it)
        victim = items[1]
        assert httpx.delete(f"{base}/v1/wardrobe/items/{victim['item_id']}").status_code == 401
        assert page.input_value("#wardrobe-key") == KEY  # kept for the tab's session across the reload
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator(f'.item-card[data-item-id="{victim["item_id"]}"] button.delete').click()
        _wait_cards(page, n - 1)
        assert page.locator(f'.item-card[data-item-id="{victim["item_id"]}"]').count() == 0
        assert httpx.get(f"{base}/v1/wardrobe/items/{victim['item_id']}").status_code == 404

        # outfits from what is left in the closet: each suggestion is a row of item cards
        page.click("#outfit-button")
        page.wait_for_function("document.querySelectorAll('#outfits .outfit').length > 0", timeout=60_000)
        rows = page.locator("#outfits .outfit")
        closet = {i["item_id"] for i in items} - {target["item_id"], victim["item_id"]}
        for r in range(rows.count()):
            ids = rows.nth(r).locator(".outfit-item").evaluate_all("els => els.map(e => e.dataset.itemId)")
            assert len(ids) >= 2 and set(ids) <= closet, ids
        page.locator("#wardrobe-filters").scroll_into_view_if_needed()
        screenshot(page, "wardrobe.png")
    assert errors == []  # no uncaught script error on the way
