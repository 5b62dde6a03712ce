"""Frozen vs fine-tuned MobileNetV2 for the product attributes, on one held-out split, in one run.

    python benchmarks/bench_finetune.py [--dataset products|clothing] [--data ../shared/data]
                                        [--home DIR] [--epochs 5] [--image-size 224] [--threads 0]
                                        [--resume]

``--dataset clothing``: the same comparison for the 10-class garment photos
(``clothing/train`` trains, ``clothing/validation`` is the test set; ``ingest folder
--labels-from-subfolders``, head ``label``, backbone ``mobilenet_v2.clothing``).

In a fresh temporary FASHIONLENS_HOME (or ``--home``, reused when it already holds the catalogue
and its mobilenet_v2.imagenet embeddings): ingest ``products/``, embed with the frozen ImageNet
backbone, then

1. the baseline: the attribute classifier on the frozen vectors (`train_attributes`, defaults);
2. fine-tune MobileNetV2 end to end (`fashionlens.training.finetune`), embed the catalogue with
   it and fit the same classifier on the new vectors.

Both use the same rows and the same test split (20%, stratified by articleType, seed 0; the
script checks the test ids match). Prints per head held-out accuracy and macro-F1 for the frozen
heads, the fine-tuned network's own linear heads and the classifier on the fine-tuned vectors,
next to the issue's goals. The fine-tuned weights land in ``HOME/models/mobilenet_v2.products.pt``
(`benchmarks/ship_finetune.py` copies them into the package).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from fashionlens.core.settings import load_settings
from fashionlens.jobs.embed import embed_catalog
from fashionlens.jobs.ingest import ingest
from fashionlens.models.registry import create_backbone
from fashionlens.store.catalog import Catalog
from fashionlens.training.attributes import ATTRIBUTES, train_attributes
from fashionlens.training.finetune import FinetuneOptions, finetune_and_fit

GOALS = {"articleType": 0.90, "gender": 0.93, "label": 0.90}
BASE = "mobilenet_v2.imagenet"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_data = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    ap.add_argument("--dataset", choices=("products", "clothing"), default="products")
    ap.add_argument("--data", type=Path, default=default_data)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="fl-finetune-"))
    settings = load_settings({"home": str(home), "backbone": BASE, "runtime": "torch"})
    catalog = Catalog(settings.db_path)
    t0 = time.perf_counter()
    clothing = args.dataset == "clothing"
    if not catalog.count("images"):
        if clothing:
            ingest(catalog, args.data / "clothing", "folder", settings, source="street",
                   labels_from_subfolders=True, label_scheme="clothing")  # fmt: skip
        else:
            ingest(catalog, args.data / "products", "products", settings)
    embed_catalog(catalog, create_backbone(BASE), batch_size=32)
    print(f"catalogue: {catalog.count('images')} images in {home} ({time.perf_counter() - t0:.0f}s)")

    attributes = ("label",) if clothing else ATTRIBUTES
    frozen = train_attributes(catalog, settings, BASE, attributes=attributes)
    options = FinetuneOptions(
        epochs=args.epochs,
        image_size=args.image_size,
        num_threads=args.threads,
        attributes=attributes,
        target="mobilenet_v2.clothing" if clothing else "mobilenet_v2.products",
    )
    tuned, heads = finetune_and_fit(catalog, settings, options, resume=args.resume)

    cards = [json.loads(r.classifier_path.with_suffix(".json").read_text()) for r in (frozen, heads)]
    same = cards[0]["metrics"]["test_ids_sha256"] == cards[1]["metrics"]["test_ids_sha256"]
    print(
        f"split: {frozen.split_method}\ntrain {frozen.n_train}, validation {frozen.n_val}, "
        f"test {frozen.n_test}; the same test images in both runs: {same}"
    )
    print(
        f"fine-tuning: {tuned.epochs_run} epochs at {options.image_size}px, best epoch {tuned.best_epoch}, "
        f"{tuned.seconds:.0f}s (decode + train + evaluate)"
    )
    for row in tuned.history:
        print(f"  epoch {row['epoch']}: loss {row['loss']}, validation {row['val']} ({row['seconds']}s)")
    print(
        f"\n{'head':<12} {'frozen':>8} {'ft-linear':>9} {'ft+mlp':>8} {'goal':>6}   "
        f"{'F1 frozen':>9} {'F1 ft+mlp':>9}"
    )
    for name, h in frozen.heads.items():
        ft = heads.heads.get(name)
        goal = GOALS.get(name)
        lin = tuned.test_accuracy.get(name)
        print(
            f"{name:<12} {h.accuracy:>8.3f} {'' if lin is None else f'{lin:.3f}':>9} "
            f"{'' if ft is None else f'{ft.accuracy:.3f}':>8} {'' if goal is None else f'{goal:.2f}':>6}   "
            f"{h.macro_f1:>9.3f} {'' if ft is None else f'{ft.macro_f1:.3f}':>9}"
        )
    print(
        "frozen: MLP heads on ImageNet MobileNetV2 vectors; ft-linear: the fine-tuned network's own "
        "linear heads; ft+mlp: the same MLP heads on the fine-tuned vectors (what ships)"
    )
    print(f"weights: {tuned.weights_path}; classifier: {heads.classifier_path}")


if __name__ == "__main__":
    main()
