"""Faults a real user meets: `kill -9` in the middle of ingest, embed and segment, then a re-run;
and two writers at once on one home. Each asserts exact row counts and that no key repeats."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fashionlens.store.catalog import Catalog
from fashionlens.store.schemas import embeddings_table_name

N = 24
MODEL = "mobilenet_v2.imagenet"


@pytest.fixture
def photos(shared_data: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in sorted((shared_data / "ccp" / "photos").glob("*.jpg"))[:N]:
        shutil.copy(path, folder / path.name)
    return folder


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASHIONLENS_")}
    env.update(FASHIONLENS_HOME=str(home), FASHIONLENS_RUNTIME="torch", FASHIONLENS_BATCH_SIZE="4",
               OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")  # fmt: skip
    return env


def _cli(home: Path, *args: str) -> subprocess.Popen[bytes]:
    code = "from fashionlens.cli.app import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _run(home: Path, *args: str) -> None:
    proc = _cli(home, *args)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err.decode()


def _kill_after(home: Path, seconds: float, *args: str) -> int:
    proc = _cli(home, *args)
    time.sleep(seconds)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return proc.returncode


def _kill_when_partly_done(home: Path, table: str, *args: str) -> int:
    """Start the command and kill -9 it as soon as ``table`` holds some rows but not all N."""
    proc = _cli(home, *args)
    deadline = time.monotonic() + 600
    catalog = None
    while proc.poll() is None and time.monotonic() < deadline:
        if catalog is None and (home / "db").is_dir():
            catalog = Catalog(home / "db", read_only=True)
        n = catalog.count(table) if catalog is not None and table in catalog.table_names() else 0
        if 0 < n < N:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    return proc.returncode


def _keys(catalog: Catalog, table: str, key: str) -> list[str]:
    return (
        catalog.read(table, columns=[key]).column(key).to_pylist() if table in catalog.table_names() else []
    )


def _no_duplicates(catalog: Catalog, table: str, key: str) -> list[str]:
    keys = _keys(catalog, table, key)
    assert len(keys) == len(set(keys)), f"{table}: duplicate {key}"
    return keys


def test_kill_9_during_ingest_embed_and_segment_then_rerun(photos: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    rng = random.Random(0)
    _kill_after(home, rng.uniform(2.0, 6.0), "ingest", "folder", str(photos), "--source", "street")
    _run(home, "ingest", "folder", str(photos), "--source", "street")
    catalog = Catalog(home / "db")
    assert len(_no_duplicates(catalog, "images", "image_id")) == N

    assert _kill_when_partly_done(home, embeddings_table_name(MODEL), "embed") == -signal.SIGKILL
    assert 0 < catalog.count(embeddings_table_name(MODEL)) < N  # killed half-way: some batches kept
    _run(home, "embed")
    assert len(_no_duplicates(catalog, embeddings_table_name(MODEL), "image_id")) == N

    killed = _kill_when_partly_done(
        home, "segment_status", "segment", "garments", "--no-embed", "--no-overlays"
    )
    assert killed == -signal.SIGKILL and 0 < catalog.count("segment_status") < N
    _run(home, "segment", "garments", "--no-embed", "--no-overlays")
    status = _no_duplicates(catalog, "segment_status", "status_key")
    assert len(status) == N  # every photo segmented exactly once
    _no_duplicates(catalog, "garments", "garment_key")
    people = _no_duplicates(catalog, "people", "person_key")
    crops = catalog.read("images", where="original_dataset = 'fashionlens-people'").num_rows
    assert crops == len(people) > 0  # one registered crop per person, none left over from the kill


def test_two_embeds_at_once_write_each_vector_once(photos: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    _run(home, "ingest", "folder", str(photos), "--source", "street")
    procs = [_cli(home, "embed") for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err.decode()
    keys = _no_duplicates(Catalog(home / "db"), embeddings_table_name(MODEL), "image_id")
    assert len(keys) == N
