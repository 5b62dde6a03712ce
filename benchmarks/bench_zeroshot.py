"""Zero-shot attribute labels from text vs trained heads, on the same held-out products.

    python benchmarks/bench_zeroshot.py [--data ../shared/data] [--home DIR] [--ship]

Ingests the product catalogue and embeds it with mobilenet_v2.imagenet (skipped when ``--home``
already holds them), trains the text tower's projection on the products that `train attributes`
keeps for training (stratified by articleType, 20% held out, seed 0), then prints zero-shot accuracy
per attribute on the held-out 20% next to the majority-class baseline, and text-to-image retrieval
precision@10 for "a photo of a {articleType}" queries. ``--ship`` writes the projection to the
package (src/fashionlens/models/shipped/), which is how the shipped file was made.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from fashionlens.core.settings import load_settings
from fashionlens.jobs.embed import embed_catalog
from fashionlens.jobs.ingest import ingest
from fashionlens.models.backbones.text_tower import TextEncoder, shipped_projection_path
from fashionlens.models.registry import create_backbone
from fashionlens.services.zeroshot import zero_shot
from fashionlens.store.catalog import Catalog
from fashionlens.training.attributes import load_attribute_data, stratified_split
from fashionlens.training.text_tower import PROMPTS, train_text_tower


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--ship", action="store_true")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="fashionlens-bench-"))
    settings = load_settings({"home": home})
    catalog = Catalog(settings.db_path)
    if catalog.count("images") == 0:
        ingest(catalog, args.data / "products", "products", settings)
    embed_catalog(catalog, create_backbone("mobilenet_v2.imagenet"), batch_size=32)

    out = shipped_projection_path() if args.ship else None
    report = train_text_tower(catalog, settings, out=out, epochs=args.epochs)
    print(
        f"text tower: trained on {report.n_train} products ({report.n_captions} captions) in "
        f"{report.seconds:.0f}s; final loss {report.final_loss:.3f}; saved {report.path}"
    )

    data = load_attribute_data(catalog, "mobilenet_v2.imagenet")
    train_idx, test_idx = stratified_split(data.labels["articleType"], 0.2, 0)
    print(f"held-out products: {len(test_idx)}")
    print(f"{'attribute':<12} {'zero-shot':>9} {'majority':>9}  classes")
    for attribute, value in report.zero_shot.items():
        labels = data.labels[attribute]
        counts = Counter(labels[i] for i in train_idx if labels[i])
        classes = {c for c, n in counts.items() if n >= 10}
        rows = [i for i in test_idx if labels[i] in classes]
        majority = max(classes, key=lambda c: counts[c])
        base = np.mean([labels[i] == majority for i in rows])
        print(
            f"{attribute:<12} {value:>9.3f} {base:>9.3f}  {len(classes)} (prompts: {PROMPTS[attribute][0]!r})"
        )

    backbone = create_backbone("mobilenet_v2_minilm.products", weights=report.path)
    projected = backbone.project(data.vectors[test_idx])
    encoder = TextEncoder()
    articles = [data.labels["articleType"][i] for i in test_idx]
    queries = sorted(c for c, n in Counter(articles).items() if n >= 10)
    start = time.perf_counter()
    text = encoder.encode([f"a photo of a {q.lower()}" for q in queries])
    precision = []
    for q, t in zip(queries, text, strict=True):
        top = np.argsort(-(projected @ t))[:10]
        precision.append(np.mean([articles[i] == q for i in top]))
    print(
        f"text->image retrieval over {len(test_idx)} held-out products, {len(queries)} articleType queries: "
        f"mean precision@10 {np.mean(precision):.3f} ({time.perf_counter() - start:.1f}s)"
    )
    _, scores = zero_shot(projected[:1], queries, encoder, ("a photo of a {label}",))
    assert scores.shape == (1, len(queries))


if __name__ == "__main__":
    main()
