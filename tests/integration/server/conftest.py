"""One catalogue (real products + a few CCP street photos, embedded on the default runtime) and
one app with every shipped model loaded, shared by the server's integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

N_PRODUCTS, N_STREET = 240, 6


def build_catalogue(shared_data: Path, root: Path) -> Path:
    """``root/home``: the catalogue, built once per test session (a marker says it is complete)."""
    home = root / "home"
    if (root / "complete").exists():
        return home
    from fashionlens.core.settings import Settings
    from fashionlens.ingest.ccp import read_ccp
    from fashionlens.ingest.products import read_products
    from fashionlens.jobs.embed import embed_catalog
    from fashionlens.models import factory
    from fashionlens.store.catalog import Catalog

    settings = Settings(home=home)
    catalog = Catalog(settings.db_path)
    catalog.add_ingest(read_products(shared_data / "products", limit=N_PRODUCTS))
    catalog.add_ingest(read_ccp(shared_data / "ccp", limit=N_STREET))
    embed_catalog(catalog, factory.backbone(settings), batch_size=32)
    (root / "complete").write_text("ok")
    return home


@pytest.fixture(scope="session")
def server_home(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_catalogue(shared_data, tmp_path_factory.getbasetemp() / "server_catalogue")


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
