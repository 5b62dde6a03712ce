"""Shared fixtures. Every test gets its own FASHIONLENS_HOME; markers come from the folder."""

from __future__ import annotations

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
    monkeypatch.setenv("FASHIONLENS_HOME", str(home))
    for var in (
        "FASHIONLENS_CONFIG",
        "FASHIONLENS_BACKBONE",
        "FASHIONLENS_BATCH_SIZE",
        "FASHIONLENS_WEIGHTS_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared datasets are expected at {SHARED_DATA} (see README, 'Tests')")
    return SHARED_DATA
