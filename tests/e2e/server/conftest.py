"""The web app end to end: a catalogue, one real `fashionlens serve` on 127.0.0.1 with every
shipped model, and Debian's chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(
    home: Path, log_path: Path, *args: str, models: str | None = None, env_extra: dict[str, str] | None = None
) -> Iterator[str]:
    """`fashionlens serve` on a free port of 127.0.0.1 until the block ends; yields its URL.
    ``env_extra``: more environment for the server (e.g. ``FASHIONLENS_API_KEY``)."""
    import httpx

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASHIONLENS_")}
    if models:
        env["FASHIONLENS_SERVE_MODELS"] = models
    env.update(env_extra or {})
    cmd = [sys.executable, "-c", "from fashionlens.cli.app import main; main()",
           "--home", str(home), "serve", "--port", str(port), *args]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.perf_counter() + 300
            while time.perf_counter() < deadline:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
            else:
                pytest.fail("the server did not become ready: " + log_path.read_text())
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def start_server():
    """``with start_server(home, log, *serve_args, models=..., env_extra=...) as url``: one more server."""
    return serve


@pytest.fixture(scope="session")
def catalogue_home(server_catalogue: Path) -> Path:
    return server_catalogue


@pytest.fixture(scope="session")
def web_server(catalogue_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every shipped model, the catalogue, the default settings."""
    with serve(catalogue_home, tmp_path_factory.mktemp("web_server") / "serve.log") as base:
        yield base


def _launch(playwright, *extra: str):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (CI does, in .ci/run)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra])


@pytest.fixture(scope="session")
def playwright_session() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def launch(playwright_session):
    """``launch(*extra_args)``: Debian's chromium, headless, with the fixed flags plus ``extra``."""
    return lambda *extra: _launch(playwright_session, *extra)


@pytest.fixture()
def page(launch) -> Iterator:
    browser = launch()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()
        browser.close()


def _save_screenshot(page, path: Path, readme: bool = False) -> Path:
    page.screenshot(path=str(path), full_page=False)
    if readme and os.environ.get("UPDATE_README_SCREENSHOT") == "1":  # else the checkout is untouched
        target = ROOT / "docs" / "screenshots" / "webapp.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return path


@pytest.fixture()
def screenshot(tmp_path: Path):
    """``screenshot(page, name, readme=False)``: a PNG in the test's tmp dir (the artefact); with
    ``readme`` and ``UPDATE_README_SCREENSHOT=1``, also docs/screenshots/webapp.png, the
    README's picture."""
    return lambda page, name, readme=False: _save_screenshot(page, tmp_path / name, readme)
