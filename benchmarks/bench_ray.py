"""The Ray engine vs the local engine on the same CPUs: overhead ratio, and images/s vs actors.

    python benchmarks/bench_ray.py --n 2048 --actors 1 2 3 4 --segment 48 --out runs/bench_ray.json

Embeds the first ``--n`` real product photos (shared/data/products) with the default backbone
(settings defaults: ``runtime=auto``), into a fresh catalogue per run:

- **local**: `engines.local.run_stage` in this process (the runtime's own intra-op threads);
- **ray, N actors**: `engines.ray.run_stage_ray` on a local Ray started once with ``--cpus`` CPUs
  (default 2: this machine), ``cpus_per_actor = min(0.75, 0.8 * cpus / N)`` and
  ``threads_per_actor = max(1, cpus // N)``, so every run uses the same cores.

Per run it prints the wall time of the whole call (select, model setup / actor start, every commit,
compaction) and how long the first batch took to be committed (start-up: models loading, actors
starting; Ray hands results back per block, so a rate between commits would mean nothing).
With ``--segment K`` it also runs `segment people` (U-Net + person detector) on K CCP street
photos, local vs Ray with ``--segment-actors`` actors. Last, the driver's commit ceiling: how many
embedding rows/s one driver can write in commits of ``--batch-size`` and of 256 rows (every Ray
result is committed there).

The ONNX cache is filled once before timing. The machine may be shared: the ratios, measured in one
run, are what to read, not the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.settings import Settings
from fashionlens.core.types import Embeddings
from fashionlens.engines.local import run_stage
from fashionlens.engines.ray import RayOptions, run_stage_ray
from fashionlens.ingest.ccp import read_ccp
from fashionlens.ingest.products import read_products
from fashionlens.jobs.embed import EmbedStage
from fashionlens.jobs.segment import SegmentOptions, segment_job
from fashionlens.models import factory
from fashionlens.store.catalog import Catalog

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass
class Clock:
    """A `Progress` that notes when each batch was committed."""

    t0: float = field(default_factory=time.perf_counter)
    times: list[float] = field(default_factory=list)

    def start(self, total: int | None, what: str = "") -> None:
        return None

    def advance(self, n: int = 1) -> None:
        self.times.append(time.perf_counter())

    def first_result_s(self) -> float:
        """Seconds from the call to the first committed batch (model setup, actors starting)."""
        return self.times[0] - self.t0 if self.times else float("nan")


def _catalog(root: Path, name: str, ingest: Any) -> Catalog:
    path = root / name
    shutil.rmtree(path, ignore_errors=True)
    catalog = Catalog(path)
    catalog.add_ingest(ingest)
    return catalog


def _timed(run: Any) -> tuple[float, float, Any]:
    clock = Clock()
    report = run(clock)
    return time.perf_counter() - clock.t0, clock.first_result_s(), report


def _ray_options(n: int, cpus: int) -> RayOptions:
    return RayOptions(
        num_actors=n, cpus_per_actor=min(0.75, 0.8 * cpus / n), threads_per_actor=max(1, cpus // n)
    )


def _driver_ceiling(root: Path, dim: int, batch: int, commits: int) -> float:
    catalog = Catalog(root / f"ceiling{batch}")
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for c in range(commits):
        ids = tuple(f"{c}-{i}" for i in range(batch))
        vectors = rng.standard_normal((batch, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        catalog.add_embeddings(Embeddings(ids, vectors, "bench.ceiling"), [f"h{c}-{i}" for i in range(batch)])
    return commits * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2048, help="product photos to embed per run")
    ap.add_argument("--actors", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs of the local Ray")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--segment", type=int, default=48, help="CCP photos for segment people (0: skip)")
    ap.add_argument("--segment-actors", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import ray

    root = Path(tempfile.mkdtemp(prefix="bench_ray_"))
    settings = Settings(home=root / "home", batch_size=args.batch_size)
    products = read_products(DATA / "products", limit=args.n)
    n = len(products.images)
    results: dict[str, Any] = {"n": n, "cpus": args.cpus, "backbone": factory.backbone_model_id(settings)}
    # fill the ONNX cache (export + int8 calibration) before anything is timed
    warm = _catalog(root, "warm", read_products(DATA / "products", limit=8))
    run_stage(EmbedStage(factory.backbone(settings)), warm)

    def stage() -> EmbedStage:
        return EmbedStage(factory.backbone(settings), batch_size=args.batch_size)

    wall, first, report = _timed(
        lambda clock: run_stage(stage(), _catalog(root, "local", products), progress=clock)
    )
    results["local"] = {"wall_s": wall, "images_per_s": n / wall, "first_result_s": first}
    print(f"embed {n} images with {results['backbone']} on {args.cpus} CPUs")
    print(f"{'engine':<16}{'wall s':>9}{'img/s':>9}{'1st batch s':>13}{'vs local':>10}")
    print(f"{'local':<16}{wall:9.1f}{n / wall:9.1f}{first:13.1f}{1.0:10.2f}")

    t0 = time.perf_counter()
    ray.init(
        num_cpus=args.cpus, object_store_memory=256 * 1024 * 1024, include_dashboard=False,
        log_to_driver=False, logging_level=logging.WARNING,
    )  # fmt: skip
    results["ray_init_s"] = time.perf_counter() - t0
    results["ray"] = {}
    for actors in args.actors:
        options = _ray_options(actors, args.cpus)
        wall, first, report = _timed(
            lambda clock, o=options, a=actors: run_stage_ray(
                stage(), _catalog(root, f"ray{a}", products), options=o, progress=clock
            )
        )
        if report.done != n:
            raise SystemExit(f"ray with {actors} actors embedded {report.done} of {n}")
        results["ray"][actors] = {
            "wall_s": wall, "images_per_s": n / wall, "first_result_s": first,
            "cpus_per_actor": options.cpus_per_actor, "threads_per_actor": options.threads_per_actor,
        }  # fmt: skip
        ratio = results["local"]["wall_s"] / wall
        print(f"{f'ray x{actors} actors':<16}{wall:9.1f}{n / wall:9.1f}{first:13.1f}{ratio:10.2f}")
    print(f"(ray.init once: {results['ray_init_s']:.1f} s, not in the runs)")

    if args.segment:
        photos = read_ccp(DATA / "ccp", limit=args.segment)
        k = len(photos.images)

        def seg(name: str) -> Any:
            return segment_job(settings, SegmentOptions(task="people", out=root / name, overlays=False))

        wall_l, first_l, _ = _timed(
            lambda clock: run_stage(seg("seg_local"), _catalog(root, "seg_local_db", photos), progress=clock)
        )
        options = _ray_options(args.segment_actors, args.cpus)
        wall_r, first_r, _ = _timed(
            lambda clock: run_stage_ray(
                seg("seg_ray"), _catalog(root, "seg_ray_db", photos), options=options, progress=clock
            )
        )
        results["segment_people"] = {
            "photos": k,
            "local": {"wall_s": wall_l, "photos_per_s": k / wall_l, "first_result_s": first_l},
            f"ray_x{args.segment_actors}": {
                "wall_s": wall_r,
                "photos_per_s": k / wall_r,
                "first_result_s": first_r,
            },
        }
        print(f"segment people, {k} CCP photos: local {k / wall_l:.2f} photos/s (1st batch {first_l:.1f} s), "
              f"ray x{args.segment_actors} {k / wall_r:.2f} (1st batch {first_r:.1f} s), "
              f"ray/local {wall_l / wall_r:.2f}")  # fmt: skip
    ray.shutdown()

    dim = factory.backbone(settings).dim
    results["driver_commit_rows_per_s"] = {}
    for batch in sorted({args.batch_size, 256}):
        ceiling = _driver_ceiling(root, dim, batch, commits=max(10, 2048 // batch))
        results["driver_commit_rows_per_s"][batch] = ceiling
        print(f"driver commit ceiling: {ceiling:.0f} embedding rows/s ({dim}-d, commits of {batch} rows)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
