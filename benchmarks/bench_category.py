"""Held-out accuracy of the coarse-category probe, next to the majority-class baseline.

    python benchmarks/bench_category.py [--data ../shared/data] [--backbone mobilenet_v2.imagenet]

Two settings, each in a fresh database: (1) street photos (CCP, 2,098 real photos, labels from
pixel maps and tags mapped to the coarse scheme), stratified 20% held out; (2) the embedded
default, Fashion-MNIST (100 per class for train and test; its own test split held out).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from fashionlens.core.settings import load_settings
from fashionlens.jobs.embed import embed_catalog
from fashionlens.jobs.ingest import ingest
from fashionlens.models.registry import create_backbone
from fashionlens.store.catalog import Catalog
from fashionlens.training.category import held_out_split, labelled_images, train_category


def measure(name: str, path: Path | None, fmt: str, backbone_id: str, **kwargs) -> None:
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings({"home": home, "backbone": backbone_id})
        catalog = Catalog(settings.db_path)
        ingest(catalog, path, fmt, settings, **kwargs)
        backbone = create_backbone(backbone_id)
        start = time.perf_counter()
        emb = embed_catalog(catalog, backbone, batch_size=settings.batch_size)
        seconds = time.perf_counter() - start
        report = train_category(catalog, settings, backbone.model_id)
        labelled = labelled_images(catalog)
        ids = sorted(labelled)
        y = [labelled[i][0] for i in ids]
        train_idx, test_idx, _ = held_out_split(ids, y, [labelled[i][1] for i in ids], 0.2, 0)
        majority_label, _ = Counter(y[i] for i in train_idx).most_common(1)[0]
        majority = sum(y[i] == majority_label for i in test_idx) / len(test_idx)
        print(f"{name}: {emb.embedded} images embedded in {seconds:.0f}s ({emb.images_per_second:.1f} img/s)")
        print(f"  classes: {dict(Counter(y))}")
        print(f"  split: {report.split_method}; train {report.n_train}, test {report.n_test}")
        print(
            f"  held-out accuracy {report.accuracy:.3f}  macro-F1 {report.macro_f1:.3f}  "
            f"majority-class baseline {majority:.3f} ({majority_label})  "
            f"ratio {report.accuracy / majority:.2f}x"
        )
        print(report.report_text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--backbone", default="mobilenet_v2.imagenet")
    args = parser.parse_args()
    measure("street (CCP)", args.data / "ccp", "ccp", args.backbone)
    measure("default (Fashion-MNIST)", None, "fashion-mnist", args.backbone, per_class=100)


if __name__ == "__main__":
    main()
