"""One real uvicorn on 127.0.0.1, started by `fashionlens serve` and stopped by the test."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _other_address() -> str | None:
    """A non-loopback address of this machine, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks a route
            address = str(s.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def served(server_home: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("uvicorn")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASHIONLENS_")}
    env["FASHIONLENS_SERVE_MODELS"] = "backbone,attributes"
    log = (tmp_path / "serve.log").open("w")
    cmd = [sys.executable, "-c", "from fashionlens.cli.app import main; main()",
           "--home", str(server_home), "serve", "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.perf_counter() + 300
        while time.perf_counter() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("the server did not become ready: " + (tmp_path / "serve.log").read_text())
        yield base, port
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    assert proc.returncode is not None


def test_fashionlens_serve_answers_the_seed_routes(served, product_jpeg: bytes) -> None:
    base, _ = served
    assert httpx.get(f"{base}/health").json()["status"] == "ok"
    r = httpx.post(f"{base}/predict", files={"image": ("p.jpg", product_jpeg, "image/jpeg")}, timeout=60)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "success" and body["predictions"]["articleType"] == "Track Pants"
    b64 = httpx.post(
        f"{base}/predict_base64", json={"image": base64.b64encode(product_jpeg).decode()}, timeout=60
    )
    assert b64.json() == body
    page = httpx.get(f"{base}/")
    assert page.status_code == 200 and "<title>fashionlens</title>" in page.text
    assert httpx.get(f"{base}/static/app.js").status_code == 200
    assert "fashionlens_http_requests_total" in httpx.get(f"{base}/metrics").text


def test_fashionlens_serve_binds_localhost_only(served) -> None:
    _, port = served
    other = _other_address()
    if other is None:
        pytest.skip("this machine has no non-loopback address to try")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{other}:{port}/health", timeout=3)
