"""Search: retrieval quality, ANN recall vs exact, and latency at 10k / 100k vectors.

    python benchmarks/bench_search.py [--data ../shared/data] [--home DIR] [--sizes 10000 100000]

1. Ingests the product catalogue and embeds it with mobilenet_v2.imagenet (skipped when ``--home``
   already holds them).
2. Precision@1/5/10 by articleType on the held-out products (stratified 20%, seed 0):
   image->image with mobilenet_v2.imagenet and in the joint space, text->image
   ("a photo of a {articleType}") with mobilenet_v2_minilm.products (`search_report`).
3. On the real embeddings (both spaces, ~7.6k rows, so above the 5,000-row ANN threshold): builds
   the search tables with each ANN index type and measures recall@10 of ANN vs exact search
   (queries: the held-out products' own vectors, via the store) and latency p50/p95.
4. Scale: synthetic L2-normalised float32 vectors (a mixture of Gaussian clusters, so neighbours
   mean something; queries are fresh draws from the same mixture) in a temp dir, per size: one
   table, exact (brute force) vs ANN, recall@10, latency p50/p95 and the ratio, unfiltered and with
   a 10% prefilter.

ANN queries re-rank ``refine_factor * k`` candidates with the full vectors (the default); the
"no re-ranking" lines show what the quantised index alone finds.

One run; the machine is shared, so compare the ratios, not the absolute milliseconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from fashionlens.analysis.retrieval import retrieval_precision
from fashionlens.core.settings import load_settings
from fashionlens.core.types import l2_normalise
from fashionlens.jobs.embed import embed_catalog
from fashionlens.jobs.index import build_search_index, search_vectors
from fashionlens.jobs.ingest import ingest
from fashionlens.models.registry import create_backbone
from fashionlens.services.search import TEXT_BACKBONE
from fashionlens.store import schemas
from fashionlens.store.catalog import Catalog
from fashionlens.store.search_table import AnnConfig, query, write_search_table
from fashionlens.training.attributes import load_attribute_data, stratified_split

IMAGE_BACKBONE = "mobilenet_v2.imagenet"
K = 10


def _timed(fn: Callable[[], pa.Table]) -> tuple[pa.Table, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def compare(
    catalog: Catalog,
    model_id: str,
    queries: np.ndarray,
    ann: AnnConfig,
    where: str | None = None,
) -> dict[str, float]:
    """recall@10 of ANN vs exact, and latency p50/p95 (ms) of each, over ``queries``."""
    recall, t_exact, t_ann = [], [], []
    query(catalog, model_id, queries[0], K, where, mode="ann", ann=ann)  # warm the index cache
    query(catalog, model_id, queries[0], K, where, mode="exact", ann=ann)
    for q in queries:
        (exact, _), dt_e = _timed(lambda q=q: query(catalog, model_id, q, K, where, mode="exact", ann=ann))
        (approx, _), dt_a = _timed(lambda q=q: query(catalog, model_id, q, K, where, mode="ann", ann=ann))
        truth = set(exact.column("image_id").to_pylist())
        recall.append(len(truth & set(approx.column("image_id").to_pylist())) / max(1, len(truth)))
        t_exact.append(dt_e * 1e3)
        t_ann.append(dt_a * 1e3)
    return {
        "recall": float(np.mean(recall)),
        "exact_p50": float(np.percentile(t_exact, 50)),
        "exact_p95": float(np.percentile(t_exact, 95)),
        "ann_p50": float(np.percentile(t_ann, 50)),
        "ann_p95": float(np.percentile(t_ann, 95)),
    }


def _line(label: str, m: dict[str, float], build: float | None = None) -> str:
    return (
        f"{label:<44} recall@10 {m['recall']:.3f}"
        f"  exact p50/p95 {m['exact_p50']:6.1f}/{m['exact_p95']:6.1f} ms"
        f"  ANN {m['ann_p50']:5.1f}/{m['ann_p95']:5.1f} ms"
        f"  speed-up p50 {m['exact_p50'] / m['ann_p50']:5.1f}x"
        + (f"  (index built in {build:.0f}s)" if build is not None else "")
    )


def synthetic(n: int, dim: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(10, n // 500), dim)).astype(np.float32)

    def draw(m: int) -> np.ndarray:
        return l2_normalise(centres[rng.integers(0, len(centres), m)] + rng.normal(scale=0.8, size=(m, dim)))

    return draw(n), draw(n_queries)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--dim", type=int, default=384, help="synthetic vector size (the joint space's)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--index-types", nargs="*", default=["IVF_HNSW_SQ", "IVF_PQ"])
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="fashionlens-bench-"))
    settings = load_settings({"home": home})
    catalog = Catalog(settings.db_path)
    if catalog.count("images") == 0:
        ingest(catalog, args.data / "products", "products", settings)
    embed_catalog(catalog, create_backbone(IMAGE_BACKBONE), batch_size=32)

    report = retrieval_precision(catalog, settings)
    print(report.table())
    print(f"({report.seconds:.1f}s)\n")

    data = load_attribute_data(catalog, IMAGE_BACKBONE, ("articleType",))
    _, held = stratified_split(data.labels["articleType"], 0.2, 0)
    rng = np.random.default_rng(0)
    picked = [data.ids[i] for i in rng.choice(held, min(args.queries, len(held)), replace=False)]
    for model_id in (IMAGE_BACKBONE, TEXT_BACKBONE):
        ids, vectors, _ = search_vectors(catalog, settings, model_id)
        position = {image_id: i for i, image_id in enumerate(ids)}
        queries = vectors[[position[i] for i in picked]]
        for index_type in args.index_types:
            ann = AnnConfig(index_type=index_type)
            info, build = _timed(
                lambda ann=ann, m=model_id: build_search_index(catalog, settings, m, ann=ann, force=True)
            )
            label = f"{model_id} {len(ids)}x{vectors.shape[1]} {info.ann_index}"
            print(_line(label, compare(catalog, model_id, queries, ann), build), flush=True)
            raw = replace(ann, refine_factor=None)
            print(_line("  same index, no re-ranking", compare(catalog, model_id, queries, raw)), flush=True)

    print()
    for n in args.sizes:
        vectors, queries = synthetic(n, args.dim, args.queries)
        columns: dict[str, list[str]] = {c: [""] * n for c in schemas.SEARCH_METADATA_COLUMNS}
        columns["image_id"] = [f"{i:012x}" for i in range(n)]
        columns["source"] = ["street" if i % 10 == 0 else "product" for i in range(n)]
        metadata = pa.table(columns)
        for index_type in args.index_types:
            with tempfile.TemporaryDirectory(prefix="fashionlens-bench-search-") as tmp:
                scale = Catalog(Path(tmp))
                ann = AnnConfig(index_type=index_type)
                info, build = _timed(
                    lambda s=scale, a=ann, m=metadata, v=vectors: write_search_table(
                        s, "synthetic", m, v, fingerprint="", source_versions={}, ann=a
                    )
                )
                label = f"synthetic {n}x{args.dim} {info.ann_index}"
                print(_line(label, compare(scale, "synthetic", queries, ann), build), flush=True)
                raw = replace(ann, refine_factor=None)
                print(
                    _line("  same index, no re-ranking", compare(scale, "synthetic", queries, raw)),
                    flush=True,
                )
                filtered = compare(scale, "synthetic", queries, ann, "source = 'street'")
                print(_line(f"  + prefilter source='street' ({n // 10} rows)", filtered), flush=True)


if __name__ == "__main__":
    main()
