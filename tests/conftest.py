"""Shared fixtures. Every test gets its own FASHIONLENS_HOME; markers come from the folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for marker in ("unit", "integration", "e2e"):
            if marker in parts:
                item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(autouse=True)
def fashionlens_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "fashionlens_home"
    for var in list(os.environ):
        if var.startswith("FASHIONLENS_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FASHIONLENS_HOME", str(home))
    # tests never need the network: every hub client is told it is offline
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "FASHIONLENS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared datasets are expected at {SHARED_DATA} (see README, 'Tests')")
    return SHARED_DATA


@pytest.fixture(scope="session")
def server_catalogue(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose catalogue holds 240 real products and 6 CCP street photos, embedded on the
    default runtime: what the server's integration and e2e tests serve (built once per session)."""
    from fashionlens.core.settings import Settings
    from fashionlens.ingest.ccp import read_ccp
    from fashionlens.ingest.products import read_products
    from fashionlens.jobs.embed import embed_catalog
    from fashionlens.models import factory
    from fashionlens.store.catalog import Catalog

    home = tmp_path_factory.getbasetemp() / "server_catalogue" / "home"
    settings = Settings(home=home)
    catalog = Catalog(settings.db_path)
    catalog.add_ingest(read_products(shared_data / "products", limit=240))
    catalog.add_ingest(read_ccp(shared_data / "ccp", limit=6))
    embed_catalog(catalog, factory.backbone(settings), batch_size=32)
    return home
