"""Street-to-shop by garment class: CCP street photos query the product catalogue, three ways.

    OMP_NUM_THREADS=1 python benchmarks/bench_street_to_shop.py [--photos 200] [--products 2000]

A temporary FASHIONLENS_HOME gets the first ``--products`` rows of the product catalogue and the
first ``--photos`` CCP photos held out by `ccp_pixel_split` (every 5th pixel-labelled photo: the
shipped U-Net never trained on them). `segment garments` runs on the street photos (people cut out
on white, garment crops with their U-Net class, each crop embedded), then `embed` embeds the
products, the photos and the person cut-outs, all with the settings' default backbone. Every
query goes through `services.search.Searcher` with ``source = product``, top 10.

A product's garment class is its articleType through ``products_to_modanet`` in
`src/fashionlens/core/label_maps.json` (Tshirts/Shirts/Tops/Sweaters -> top, Jackets -> outer,
Jeans/Trousers/Track Pants -> pants, Shorts -> shorts, Dresses -> dress, Skirts -> skirt,
Casual/Sports/Formal Shoes, Heels, Flats, Sandals, Flip Flops -> footwear, Handbags/Backpacks/
Wallets -> bag, Belts -> belt, Sunglasses -> sunglasses, Caps/Hat -> headwear, Scarves/Ties/
Mufflers -> scarf/tie; the benchmark prints the map's counts). Products with no class (watches,
socks, perfume, innerwear...) stay in the index and are never relevant. Query kinds:

- **whole photo** and **person cut-out on white** (the largest person `segment people` found):
  a product is relevant when its class is one the person wears by CCP's pixel labels;
- **garment crops** (`segment garments`): relevant when the product's class is the crop's own
  (predicted) class; a second row keeps only crops whose class CCP's labels confirm.

A query whose relevant class has no product in the index (boots: the catalogue has none) cannot
score and is left out; the counts say how many. "chance" is the mean share of relevant products
in the index (what a random ranking scores at any k); the kinds' relevance differs (any class the
person wears vs one class), so compare each kind with its own chance (P@10/chance).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.labels import label_maps
from fashionlens.core.settings import Settings
from fashionlens.core.types import IngestResult
from fashionlens.ingest.ccp import ccp_pixel_split, read_ccp
from fashionlens.jobs.embed import embed_catalog
from fashionlens.jobs.ingest import ingest
from fashionlens.jobs.segment import SegmentOptions, run_segment
from fashionlens.models import factory
from fashionlens.services.search import Searcher, SearchFilters
from fashionlens.store.catalog import Catalog
from fashionlens.store.schemas import garment_embeddings_table_name

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
KS = (1, 5, 10)


def garment_class(article_type: str) -> str:
    mapping: dict[str, str] = label_maps()["products_to_modanet"]  # type: ignore[assignment]
    return mapping.get(article_type, "")


def ingest_held_out(catalog: Catalog, ccp: Path, n: int) -> dict[str, set[str]]:
    """The first ``n`` held-out CCP photos into the catalogue; image_id -> CCP's garment classes."""
    _, held = ccp_pixel_split(ccp)
    wanted = set(held[:n])
    read = read_ccp(ccp, limit=max(int(s) for s in wanted))
    images = [r for r in read.images if Path(r.image_path).stem in wanted]
    ids = {r.image_id for r in images}
    labels = [lab for lab in read.labels if lab.image_id in ids]
    catalog.add_ingest(IngestResult(images=images, labels=labels))
    return {lab.image_id: set(lab.modanet_categories) for lab in labels}


def precision(hit_classes: list[str], relevant: set[str]) -> dict[int, float]:
    return {k: sum(c in relevant for c in hit_classes[:k]) / k for k in KS}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SHARED, help="the shared data folder")
    parser.add_argument("--photos", type=int, default=200, help="held-out CCP photos (queries)")
    parser.add_argument("--products", type=int, default=2000, help="products in the index")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--home", type=Path, default=None, help="FASHIONLENS_HOME (default: temp)")
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="bench_street_to_shop_"))
    settings = Settings(home=home, num_threads=args.threads)
    catalog = Catalog(settings.db_path)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared); home {home}")
    t0 = time.perf_counter()
    ingest(catalog, args.data / "products", "products", settings, limit=args.products)
    truth = ingest_held_out(catalog, args.data / "ccp", args.photos)
    seg = run_segment(
        settings,
        SegmentOptions(task="garments", where="original_dataset = 'ccp'", overlays=False),
    )
    backbone = factory.backbone(settings)
    embedded = embed_catalog(catalog, backbone, batch_size=settings.batch_size)
    model_id = backbone.model_id
    print(
        f"built in {time.perf_counter() - t0:.0f}s: {len(truth)} street photos segmented "
        f"({seg.people} people, {seg.garments} garments, {seg.images_per_second:.2f} photos/s), "
        f"{embedded.embedded} images embedded with {model_id}"
    )

    searcher = Searcher(catalog, settings, model_id)
    products = catalog.read("labels", where="label_source = 'products'").to_pylist()
    in_index = Counter(garment_class(str(_article(r))) for r in products)
    n_products = catalog.count("images", "source = 'product'")
    print(f"\nindex: {n_products} products by garment class (articleType -> products_to_modanet):")
    print("  " + ", ".join(f"{c or 'no class'} {n}" for c, n in in_index.most_common()))

    def ranked(vector: np.ndarray) -> list[str]:
        hits = searcher.search_vector(vector, "", "vector", 10, SearchFilters(source="product")).hits
        return [garment_class(h.article_type) for h in hits]

    def chance(relevant: set[str]) -> float:
        return sum(in_index[c] for c in relevant) / n_products

    rows: dict[str, list[tuple[dict[int, float], float]]] = {}
    left_out: Counter[str] = Counter()

    def score(kind: str, vector: np.ndarray | None, relevant: set[str]) -> None:
        if vector is None:
            left_out[f"{kind}: no vector"] += 1
            return
        if not any(in_index[c] for c in relevant):
            left_out[f"{kind}: no relevant product"] += 1
            return
        rows.setdefault(kind, []).append((precision(ranked(vector), relevant), chance(relevant)))

    people = catalog.read("people").to_pylist()
    person_of: dict[str, dict[str, Any]] = {}
    for p in people:
        if p["image_id"] in truth and p["area"] > person_of.get(p["image_id"], {"area": -1})["area"]:
            person_of[p["image_id"]] = p
    garments = [g for g in catalog.read("garments").to_pylist() if g["image_id"] in truth]
    vec_table = catalog.read(garment_embeddings_table_name(model_id), columns=["image_id", "vector"])
    garment_vec = dict(
        zip(
            vec_table.column("image_id").to_pylist(),
            (np.asarray(v, np.float32) for v in vec_table.column("vector").to_pylist()),
            strict=True,
        )
    )
    t1 = time.perf_counter()
    per_class: dict[str, list[dict[int, float]]] = {}
    for image_id, classes in sorted(truth.items()):
        score("whole photo", searcher.stored_vector(image_id), classes)
        person = person_of.get(image_id)
        cut = searcher.stored_vector(person["person_image_id"]) if person else None
        score("person cut-out on white", cut, classes)
    for g in garments:
        vector = garment_vec.get(g["garment_key"])
        score("garment crops", vector, {g["category"]})
        if vector is not None and in_index[g["category"]]:
            per_class.setdefault(g["category"], []).append(rows["garment crops"][-1][0])
        if g["category"] in truth[g["image_id"]]:
            score("garment crops, class confirmed by CCP", vector, {g["category"]})
    queries = sum(len(v) for v in rows.values())
    print(f"{queries} queries in {time.perf_counter() - t1:.1f}s")

    print(f"\n{len(truth)} held-out CCP photos vs {n_products} products, top 10 of the product index:")
    print(f"{'query':40} {'queries':>7} {'P@1':>6} {'P@5':>6} {'P@10':>6} {'chance':>7} {'P@10/chance':>11}")
    for kind, scored in rows.items():
        p = {k: float(np.mean([s[0][k] for s in scored])) for k in KS}
        c = float(np.mean([s[1] for s in scored]))
        print(f"{kind:40} {len(scored):7d} {p[1]:6.3f} {p[5]:6.3f} {p[10]:6.3f} {c:7.3f} {p[10] / c:10.2f}x")
    if left_out:
        print("left out: " + ", ".join(f"{k} {n}" for k, n in sorted(left_out.items())))
    print("\ngarment crops by class (the crop's U-Net class):")
    print(f"{'class':12} {'crops':>6} {'P@1':>6} {'P@10':>6} {'chance':>7}")
    for cls, scored_p in sorted(per_class.items(), key=lambda kv: -len(kv[1])):
        p1 = float(np.mean([s[1] for s in scored_p]))
        p10 = float(np.mean([s[10] for s in scored_p]))
        print(f"{cls:12} {len(scored_p):6d} {p1:6.3f} {p10:6.3f} {in_index[cls] / n_products:7.3f}")


def _article(label: dict[str, Any]) -> str:
    import json

    attrs = json.loads(label.get("attributes_json") or "{}")
    return str(attrs.get("articleType") or "") if isinstance(attrs, dict) else ""


if __name__ == "__main__":
    main()
