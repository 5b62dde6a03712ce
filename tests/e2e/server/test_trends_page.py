"""The web app's Trends page in real headless Chromium against a real `fashionlens serve`: on a small
catalogue of real products and CCP street photos, a run shows the test of independence, the shares
with their intervals, the pairwise verdicts and the report's plots as PNGs; on an empty catalogue
and on a catalogue of one source it says there is too little data."""

from __future__ import annotations

from pathlib import Path

import httpx

N_PRODUCTS, N_STREET = 60, 20


def _catalogue(shared_data: Path, home: Path, *, street: bool = True) -> Path:
    """Real products (+ CCP street photos) ingested as they are: trends reads the catalogue, no
    embedding or segmentation is needed (the street category then comes from the CCP labels)."""
    from fashionlens.core.settings import Settings
    from fashionlens.ingest.ccp import read_ccp
    from fashionlens.ingest.products import read_products
    from fashionlens.store.catalog import Catalog

    catalog = Catalog(Settings(home=home).db_path)
    catalog.add_ingest(read_products(shared_data / "products", limit=N_PRODUCTS))
    if street:
        catalog.add_ingest(read_ccp(shared_data / "ccp", limit=N_STREET))
    return home


def _run(page, by: str, signal: str) -> None:
    runs = int(page.locator("#trends-form").get_attribute("data-runs") or 0)
    page.select_option("#trends-by", by)
    page.select_option("#trends-signal", signal)
    page.click("#trends-button")
    page.wait_for_function(
        f"document.querySelector('#trends-form').dataset.runs === '{runs + 1}'", timeout=60_000
    )


def _rows(page, table: str) -> list[list[str]]:
    return page.locator(f"{table} tbody tr:not(.more)").evaluate_all(
        "trs => trs.map(tr => [...tr.cells].map(td => td.textContent))"
    )


def test_trends_page_shows_tables_verdicts_and_plots(
    start_server, page, shared_data: Path, tmp_path: Path, screenshot
) -> None:
    home = _catalogue(shared_data, tmp_path / "home")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    with start_server(home, tmp_path / "serve.log", models=",") as base:
        page.goto(f"{base}/#trends")
        assert page.locator("#page-trends").is_visible()
        assert page.locator("#nav a[data-page=trends]").get_attribute("class") == "active"
        _run(page, "source", "category")
        assert page.locator("#trends-output").is_visible()
        assert page.locator("#trends-message").is_hidden()  # two groups of 60 and 20: enough to compare
        assert (
            page.locator("#trends-info")
            .inner_text()
            .startswith(f"{N_PRODUCTS + N_STREET} units in 2 source groups")
        )

        body = httpx.get(f"{base}/v1/trends", params={"by": "source", "signal": "category"}).json()
        shares = _rows(page, "#trends-shares")
        assert len(shares) == len(body["shares"]) > 2
        assert {r[0] for r in shares} == {"product", "street"}
        first = body["shares"][0]
        assert shares[0][4] == (
            f"{100 * first['share']:.1f}% [{100 * first['ci_low']:.1f}%, {100 * first['ci_high']:.1f}%]"
        )
        assert "small group" in {r[5] for r in shares}  # street has 20 units (< 30): flagged
        pairwise = _rows(page, "#trends-pairwise")
        assert len(pairwise) == len(body["pairwise"]) > 0
        verdicts = page.locator("#trends-pairwise td.verdict").all_inner_texts()
        assert any(v.startswith("higher in") for v in verdicts)  # e.g. dresses: street 35% vs product 0%
        assert page.locator("#trends-pairwise td.verdict.significant").count() == sum(
            v.startswith("higher in") for v in verdicts
        )
        chi = page.locator("#trends-chi").inner_text()
        assert chi.startswith("χ² = ") and "category depends on source" in chi

        plots = page.locator("#trends-plots figure.plot")
        assert plots.count() >= 2  # the shares bars and the residual heatmap at least
        names = plots.evaluate_all("fs => fs.map(f => f.dataset.plot)")
        assert "shares" in names and "residuals" in names
        for i in range(plots.count()):
            img = plots.nth(i).locator("img")
            assert img.get_attribute("src").startswith("data:image/png;base64,")
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 200", arg=img.element_handle(), timeout=10_000
            )
        report = page.locator("#trends-report")
        assert report.is_visible() and httpx.get(base + report.get_attribute("href")).status_code == 200
        screenshot(page, "trends.png")

        _run(page, "source", "colour")  # another signal: the page redraws from the new answer
        assert page.locator("#trends-output").get_attribute("data-signal") == "colour"
        assert page.locator("#trends-plots figure.plot[data-plot=colours]").count() == 1
    assert errors == []  # no uncaught script error on the way


def test_trends_page_says_when_the_catalogue_holds_too_little(
    start_server, page, shared_data: Path, tmp_path: Path
) -> None:
    with start_server(tmp_path / "empty", tmp_path / "empty.log", models=",") as base:
        page.goto(f"{base}/#trends")
        _run(page, "source", "category")
        message = page.locator("#trends-message")
        assert message.is_visible() and message.get_attribute("data-kind") == "too-little"
        assert message.inner_text().startswith("Too little data for trends: the catalogue has no images")
        assert page.locator("#trends-output").is_hidden()

    home = _catalogue(shared_data, tmp_path / "products_only", street=False)
    with start_server(home, tmp_path / "products.log", models=",") as base:
        page.goto(f"{base}/#trends")
        _run(page, "source", "category")
        message = page.locator("#trends-message")
        assert message.is_visible() and message.get_attribute("data-kind") == "too-little"
        assert "one source group (product)" in message.inner_text()
        assert len(_rows(page, "#trends-shares")) > 1  # its shares are still shown
        assert page.locator("#trends-chi").inner_text() == "no test of independence (see the notes)"
        assert page.locator("#trends-notes li").count() >= 1
