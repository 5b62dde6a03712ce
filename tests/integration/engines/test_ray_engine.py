"""The Ray engine on a local two-node cluster (2 nodes x 1 CPU) runs the same stage objects as the
local engine, on real products and CCP street photos: the same rows, vectors within 1e-5, vectors
still ``fixed_size_list<float32>``, idempotent re-runs, and a worker killed mid-job loses nothing
and duplicates nothing."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402

from fashionlens.core.progress import CountingProgress  # noqa: E402
from fashionlens.core.settings import Settings  # noqa: E402
from fashionlens.core.types import ImageRecord  # noqa: E402
from fashionlens.engines.local import run_stage  # noqa: E402
from fashionlens.engines.ray import RayOptions, run_stage_ray  # noqa: E402
from fashionlens.ingest.ccp import read_ccp  # noqa: E402
from fashionlens.ingest.products import read_products  # noqa: E402
from fashionlens.jobs.base import Batch  # noqa: E402
from fashionlens.jobs.embed import EmbedResults, EmbedStage  # noqa: E402
from fashionlens.jobs.segment import SegmentOptions, segment_job  # noqa: E402
from fashionlens.models import factory  # noqa: E402
from fashionlens.store import schemas  # noqa: E402
from fashionlens.store.catalog import Catalog  # noqa: E402

N_PRODUCTS, N_PHOTOS = 100, 16
MB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Two Ray nodes of one CPU each on this machine; the test process is the driver."""
    # the stages below that exist only in this file travel to the workers by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 100 * MB, "include_dashboard": False},
    )
    c.add_node(num_cpus=1, object_store_memory=100 * MB)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()


@pytest.fixture(scope="module")
def products(shared_data: Path) -> Any:
    return read_products(shared_data / "products", limit=N_PRODUCTS)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of derived model files (ONNX exports) for the whole module: built once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def settings(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("FASHIONLENS_CACHE", str(cache))  # for the CLI
    # one intra-op thread in both engines, so the two runs do the same arithmetic
    return Settings(home=tmp_path / "home", num_threads=1, cache=cache)


@pytest.fixture
def one_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _catalog(path: Path, ingest: Any) -> Catalog:
    catalog = Catalog(path)
    catalog.add_ingest(ingest)
    return catalog


def _embeddings(catalog: Catalog, name: str) -> dict[str, dict[str, Any]]:
    rows = catalog.read(name).to_pylist()
    return {r["image_id"]: r for r in rows}


def _same_vectors(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> float:
    assert a.keys() == b.keys()
    for key in a:
        assert {k: v for k, v in a[key].items() if k != "vector"} == {
            k: v for k, v in b[key].items() if k != "vector"
        }
    return max(float(np.abs(np.array(a[k]["vector"]) - np.array(b[k]["vector"])).max()) for k in a)


def test_embed_on_ray_matches_local(
    cluster: Cluster, products: Any, settings: Settings, tmp_path: Path
) -> None:
    model_id = factory.backbone_model_id(settings)
    table = schemas.embeddings_table_name(model_id)
    local_db, ray_db = _catalog(tmp_path / "local", products), _catalog(tmp_path / "ray", products)

    local = run_stage(EmbedStage(factory.backbone(settings)), local_db)
    progress = CountingProgress()
    report = run_stage_ray(EmbedStage(factory.backbone(settings)), ray_db, progress=progress)

    assert (report.engine, report.done, report.already_done, report.skipped) == ("ray", N_PRODUCTS, 0, [])
    assert local.done == N_PRODUCTS and progress.done == N_PRODUCTS
    assert _same_vectors(_embeddings(local_db, table), _embeddings(ray_db, table)) <= 1e-5
    vector = ray_db.open_table(table).schema.field("vector").type
    assert pa.types.is_fixed_size_list(vector) and vector.value_type == pa.float32()
    # idempotent: content hash + model id say everything is done
    again = run_stage_ray(EmbedStage(factory.backbone(settings)), ray_db)
    assert (again.done, again.already_done) == (0, N_PRODUCTS)
    assert ray_db.count(table) == N_PRODUCTS


def _stage_actors() -> int:
    """Actors of the Ray engine's pool this cluster has started so far (alive or dead)."""
    from ray._private import state

    return sum("StageActor" in str(a.get("ActorClassName", "")) for a in state.actors().values())


def test_cli_engine_flag_runs_embed_and_segment_on_ray(
    cluster: Cluster, shared_data: Path, settings: Settings, tmp_path: Path
) -> None:
    """`fashionlens --engine ray embed` / `segment people` run on the Ray actor pool; an unreadable
    file lands in the one skip log and the rest are written."""
    from typer.testing import CliRunner

    from fashionlens.cli.app import app

    home = tmp_path / "home"
    catalog = _catalog(Settings(home=home).db_path, read_products(shared_data / "products", limit=24))
    catalog.add_ingest(read_ccp(shared_data / "ccp", limit=2))
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    catalog.upsert_images([ImageRecord("broken", "product", "test", str(bad), "unsplit", 10, 10, "0" * 64)])
    before = _stage_actors()
    runner = CliRunner()

    result = runner.invoke(app, ["--home", str(home), "--engine", "ray", "embed"])
    assert result.exit_code == 0, result.output
    assert "embedded 26 images" in result.output and "1 skipped" in result.output
    assert "broken.jpg" in result.output
    assert _stage_actors() > before  # it ran on the actor pool, not in this process

    before = _stage_actors()
    result = runner.invoke(
        app, ["--home", str(home), "--engine", "ray", "segment", "people", "--source", "street"]
    )
    assert result.exit_code == 0, result.output
    assert "segmented 2 photos" in result.output and _stage_actors() > before
    assert catalog.count("people") >= 2

    result = runner.invoke(app, ["--home", str(home), "--engine", "spark", "embed"])
    assert result.exit_code != 0 and "engine must be one of local, ray" in result.output


def _rows(catalog: Catalog, name: str, key: str, out: Path) -> dict[str, dict[str, Any]]:
    """Rows of ``name`` by ``key`` with the run-specific parts (time, output folder) taken out."""
    rows = {}
    for row in catalog.read(name).to_pylist():
        row.pop("done_at", None)
        for column in ("crop_path", "overlay_path", "image_path"):
            if isinstance(row.get(column), str):
                row[column] = row[column].replace(str(out.resolve()), "OUT").replace(str(out), "OUT")
        rows[row[key]] = row
    return rows


def test_segment_on_ray_matches_local(
    cluster: Cluster, shared_data: Path, settings: Settings, tmp_path: Path, one_thread: None
) -> None:
    photos = read_ccp(shared_data / "ccp", limit=N_PHOTOS)
    local_db, ray_db = _catalog(tmp_path / "local", photos), _catalog(tmp_path / "ray", photos)

    def stage(out: Path) -> Any:
        return segment_job(settings, SegmentOptions(task="garments", out=out))

    local = run_stage(stage(tmp_path / "out_local"), local_db)
    report = run_stage_ray(stage(tmp_path / "out_ray"), ray_db)
    assert report.done == local.done == N_PHOTOS and report.skipped == []
    assert report.counts == local.counts and report.counts["garments"] > N_PHOTOS
    for name, key in (
        ("people", "person_key"),
        ("garments", "garment_key"),
        ("segment_status", "status_key"),
    ):
        a = _rows(local_db, name, key, tmp_path / "out_local")
        b = _rows(ray_db, name, key, tmp_path / "out_ray")
        assert a == b, name
    # the person crops registered as images: same content hashes, so the same ids
    assert set(local_db.image_ids()) == set(ray_db.image_ids())
    garments = schemas.garment_embeddings_table_name(factory.backbone_model_id(settings))
    assert (
        _same_vectors(
            {k: {"vector": v["vector"]} for k, v in _embeddings(local_db, garments).items()},
            {k: {"vector": v["vector"]} for k, v in _embeddings(ray_db, garments).items()},
        )
        <= 1e-5
    )
    overlays = sorted(p.name for p in (tmp_path / "out_ray" / "overlays").iterdir())
    assert len(overlays) == N_PHOTOS
    again = run_stage_ray(stage(tmp_path / "out_ray"), ray_db)
    assert (again.done, again.already_done) == (0, N_PHOTOS)


class DiesOnce(EmbedStage):
    """The embed stage, except that the worker holding ``victim`` kills its own process the first
    time (SIGKILL: no cleanup, as when the OOM killer or a lost node takes it)."""

    def __init__(self, backbone: Any, victim: str, marker: Path, **kwargs: Any) -> None:
        super().__init__(backbone, **kwargs)
        self.victim, self.marker = victim, marker

    def infer(self, batch: Batch) -> EmbedResults:
        ids = [r["image_id"] for r in batch.rows]
        if self.victim in ids and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return super().infer(batch)


def test_worker_killed_mid_job_loses_nothing(
    cluster: Cluster, products: Any, settings: Settings, tmp_path: Path
) -> None:
    model_id = factory.backbone_model_id(settings)
    table = schemas.embeddings_table_name(model_id)
    local_db, ray_db = _catalog(tmp_path / "local", products), _catalog(tmp_path / "ray", products)
    run_stage(EmbedStage(factory.backbone(settings)), local_db)
    rows, _ = EmbedStage(factory.backbone(settings)).select(ray_db)
    victim = rows[len(rows) // 2]["image_id"]  # a batch in the middle of the job
    marker = tmp_path / "killed.pid"

    stage = DiesOnce(factory.backbone(settings), victim, marker, batch_size=10)
    report = run_stage_ray(stage, ray_db, options=RayOptions(num_actors=2))

    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker did die
    assert report.done == N_PRODUCTS and report.counts == {"embedded": N_PRODUCTS}
    ids = ray_db.read(table, columns=["image_id"]).column("image_id").to_pylist()
    assert len(ids) == len(set(ids)) == N_PRODUCTS  # no duplicate, no lost row
    assert _same_vectors(_embeddings(local_db, table), _embeddings(ray_db, table)) <= 1e-5


class FailsToInfer(EmbedStage):
    def infer(self, batch: Batch) -> EmbedResults:
        from fashionlens.core.errors import ModelBuildError

        raise ModelBuildError(f"{batch.rows[0]['image_path']}: the model cannot run")


def test_a_worker_error_reaches_the_caller_as_itself(
    cluster: Cluster, shared_data: Path, settings: Settings, tmp_path: Path
) -> None:
    from fashionlens.core.errors import ModelBuildError

    catalog = _catalog(tmp_path / "db", read_products(shared_data / "products", limit=4))
    with pytest.raises(ModelBuildError) as info:
        run_stage_ray(FailsToInfer(factory.backbone(settings)), catalog, options=RayOptions(preflight=False))
    # the worker's own one-line error (what the CLI prints), not Ray's remote traceback
    assert type(info.value) is ModelBuildError
    assert str(info.value).endswith(".jpg: the model cannot run") and "\n" not in str(info.value)


def test_a_stage_with_loaded_models_is_refused(
    cluster: Cluster, shared_data: Path, settings: Settings, tmp_path: Path
) -> None:
    """Models are set up on each worker; a stage whose models hold live sessions cannot travel."""
    from fashionlens.core.errors import InvalidInputError

    stage = segment_job(settings, SegmentOptions(task="people", overlays=False))
    if stage.detector is None:
        pytest.skip("needs opencv's HOG person detector (an unpicklable live object once set up)")
    stage.setup()
    with pytest.raises(InvalidInputError, match="cannot be sent to Ray workers"):
        run_stage_ray(stage, _catalog(tmp_path / "db", read_ccp(shared_data / "ccp", limit=2)))
