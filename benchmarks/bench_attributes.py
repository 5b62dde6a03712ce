"""Held-out accuracy of the multi-head attribute classifier on the real product catalogue.

    python benchmarks/bench_attributes.py [--data ../shared/data] [--backbone mobilenet_v2.imagenet]
                                          [--epochs 80] [--no-colour-ablation] [--home DIR]

In one run, in a fresh temporary FASHIONLENS_HOME (or ``--home``, reused if it already holds the
embeddings): ingest ``products/`` (7,597 unique photos), embed them with the frozen backbone,
train the attribute classifier (`fashionlens.training.attributes.train_attributes`, its default
settings) and print, per head, held-out accuracy and macro-F1 next to the target and the
majority-class baseline. The test split (20%, stratified by articleType, seed 0) is never used
for tuning or early stopping. Unless ``--no-colour-ablation``, the same run is repeated without
the colour descriptor (first), to show what it adds to the colour head.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fashionlens.core.settings import load_settings
from fashionlens.jobs.embed import embed_catalog
from fashionlens.jobs.ingest import ingest
from fashionlens.models.registry import create_backbone
from fashionlens.store.catalog import Catalog
from fashionlens.training.attributes import AttributeReport, train_attributes

# held-out accuracy to beat (the figures for the product catalogue)
TARGETS = {"articleType": 0.792, "baseColour": 0.679, "season": 0.640, "gender": 0.844}


def print_report(title: str, report: AttributeReport) -> None:
    print(f"\n{title}")
    print(
        f"  split: {report.split_method}\n  train {report.n_train}, validation {report.n_val}, "
        f"test {report.n_test}; best epoch {report.best_epoch} of {report.epochs_run}; {report.seconds:.0f}s"
    )
    header = f"  {'head':<12} {'accuracy':>8} {'target':>7} {'':>4} {'macro-F1':>8} {'majority':>8} "
    print(header + f"{'classes':>7} {'scored':>6} {'pruned':>6} {'strict':>7}")
    for name, h in report.heads.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else ("ok" if h.accuracy > target else "MISS")
        target_text = f"{target:.3f}" if target is not None else "-"
        print(
            f"  {name:<12} {h.accuracy:>8.3f} {target_text:>7} {verdict:>4} {h.macro_f1:>8.3f} "
            f"{h.majority_accuracy:>8.3f} {len(h.classes):>7} {h.n_test:>6} {h.n_test_unscored:>6} "
            f"{h.strict_accuracy:>7.3f}"
        )
    for name, why in report.skipped_heads.items():
        print(f"  {name:<12} not trained: {why}")
    print(
        "  accuracy/macro-F1/majority: on held-out images whose label the head knows; 'pruned': held-out "
        "images of a class with < 10 training images; 'strict': accuracy counting those as errors"
    )


def run(home: Path, data: Path, backbone_id: str, epochs: int, ablation: bool) -> None:
    settings = load_settings({"home": str(home), "backbone": backbone_id})
    catalog = Catalog(settings.db_path)
    start = time.perf_counter()
    ing = ingest(catalog, data / "products", "products", settings)
    print(f"ingest: {len(ing.result.images)} images, {len(ing.result.skipped)} skipped (duplicate photos)")
    print(f"  {time.perf_counter() - start:.0f}s")
    backbone = create_backbone(backbone_id, device=settings.device, weights_dir=settings.weights_dir)
    emb = embed_catalog(catalog, backbone, batch_size=settings.batch_size)
    print(
        f"embed: {emb.embedded} embedded with {backbone.model_id} in {emb.seconds:.0f}s "
        f"({emb.images_per_second:.1f} img/s); {emb.already_done} already done"
    )
    plain = None
    if ablation:  # first, so that the saved classifier is the shipped configuration
        plain = train_attributes(catalog, settings, backbone.model_id, epochs=epochs, colour_features=False)
    report = train_attributes(catalog, settings, backbone.model_id, epochs=epochs)
    print_report("attribute classifier (MLP + Lab colour histogram for the colour head)", report)
    print(f"  saved {report.classifier_path}; confusion matrices in {report.report_path.parent}")
    if plain is not None:
        print_report("ablation: the same MLP without the colour histogram", plain)
    print(f"\ntotal {time.perf_counter() - start:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--backbone", default="mobilenet_v2.imagenet")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--home", type=Path, default=None, help="reuse this FASHIONLENS_HOME")
    parser.add_argument("--no-colour-ablation", action="store_true")
    args = parser.parse_args()
    if args.home:
        run(args.home, args.data, args.backbone, args.epochs, not args.no_colour_ablation)
    else:
        with tempfile.TemporaryDirectory() as home:
            run(Path(home), args.data, args.backbone, args.epochs, not args.no_colour_ablation)


if __name__ == "__main__":
    main()
