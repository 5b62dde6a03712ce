"""One catalogue (real products + a few CCP street photos, embedded on the default runtime) and
one app with every shipped model loaded, shared by the server's integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def server_home(server_catalogue: Path) -> Path:
    return server_catalogue


@pytest.fixture(scope="session")
def client(server_home: Path) -> Iterator:
    from fastapi.testclient import TestClient

    from fashionlens.core.settings import Settings
    from fashionlens.server.app import create_app
    from fashionlens.server.config import ServerConfig

    app = create_app(Settings(home=server_home), ServerConfig(load_in_background=False))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def product_jpeg(shared_data: Path) -> bytes:
    """A real catalogue photo: black Manchester United track pants (styles.csv id 21379)."""
    return (shared_data / "products" / "images" / "21379.jpg").read_bytes()


@pytest.fixture(scope="session")
def street_jpeg(shared_data: Path) -> bytes:
    """A real CCP street photo of one standing person."""
    return (shared_data / "ccp" / "photos" / "0001.jpg").read_bytes()
