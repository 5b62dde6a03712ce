"""Three `fashionlens ingest ccp` processes at once on one home, on real CCP photos: the same rows as
one ingest alone, no duplicate key (issue 9: two ingests of one folder once duplicated every row)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fashionlens.store.catalog import Catalog

CLI = "from fashionlens.cli.app import main; main()"
KEYS = {"images": "image_id", "labels": "label_key", "annotations": "annotation_key"}


def _ingest(home: Path, ccp: Path, n: int) -> subprocess.Popen[str]:
    env = {**os.environ, "FASHIONLENS_HOME": str(home)}
    args = [sys.executable, "-c", CLI, "ingest", "ccp", str(ccp), "--limit", str(n)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _counts(home: Path) -> dict[str, tuple[int, int]]:
    catalog = Catalog(home / "db", read_only=True)
    out = {}
    for name, key in KEYS.items():
        keys = catalog.read(name, columns=[key]).column(key).to_pylist()
        out[name] = (len(keys), len(set(keys)))
    return out


def test_three_ingests_at_once_equal_one(shared_data: Path, tmp_path: Path) -> None:
    ccp, n = shared_data / "ccp", 40
    alone = _ingest(tmp_path / "alone", ccp, n)
    out, _ = alone.communicate(timeout=600)
    assert alone.returncode == 0, out
    expected = _counts(tmp_path / "alone")
    assert expected["images"] == (n, n) and all(total == distinct for total, distinct in expected.values())
    for trial in range(2):
        home = tmp_path / f"together{trial}"
        procs = [_ingest(home, ccp, n) for _ in range(3)]
        outputs = [p.communicate(timeout=600)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outputs
        assert _counts(home) == expected
