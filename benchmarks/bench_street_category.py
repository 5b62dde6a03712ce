"""Street photos' coarse category: the seed's rule on segmented garments vs the whole-image probe.

    python benchmarks/bench_street_category.py [--ccp ../shared/data/ccp] [--threads 1] [--tune]

Both methods are scored against CCP's own labels (pixel maps for 0001-1004, image-level tags for
1005-2098, mapped to the coarse scheme exactly as `fashionlens ingest ccp` does) on photos neither
was trained on:

- **held out**: the 200 photos of `ccp_pixel_split` (every 5th pixel-labelled photo), which the
  shipped U-Net never saw;
- **tags**: the 1,093 image-level photos 1005-2098 (1707 repeats 0025 and is left out), also never
  seen by the U-Net, which trains only on pixel maps.

Methods: (1) **garments**: the shipped U-Net segments the photo, `outfits_from_segmentation` sums
each class's pixels per person (as `segment garments` stores them), and the seed's rule runs on
the classes covering at least their share of the person (`GarmentRule`, thresholds in
`analysis/trends/outfit.py`); (2) **probe**: the existing logistic regression (`LinearProbe`,
balanced class weights) on MobileNetV2 ImageNet embeddings of the whole photo, trained on the same
804 photos the U-Net trained on, and (for the held-out 200) also on those plus the 1,093 tag
photos; (3) the majority class of the 804 training photos.

``--tune`` searches the thresholds on the 804 training photos only and prints the best; the
library's defaults are the values it printed. U-Net maps and embeddings are cached in
``runs/bench_street_category/`` (the maps keyed by the U-Net weights' sha256) so a rerun is quick.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from fashionlens.analysis.trends.outfit import GarmentRule, outfits_from_segmentation, photo_outfit
from fashionlens.core.labels import coarse_category, map_to_modanet
from fashionlens.ingest.ccp import PIXEL_DIR, TAGS_DIR, ccp_label_names, ccp_pixel_split, read_ccp_labels
from fashionlens.ingest.images import open_rgb

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "runs" / "bench_street_category"
DUPLICATES = {"1707"}  # same bytes as 0025; `ingest ccp` keeps the first


def labels(ccp: Path, stems: list[str]) -> dict[str, str]:
    names = ccp_label_names(ccp)
    out = {}
    for stem in stems:
        path = ccp / PIXEL_DIR / f"{stem}.mat"
        if not path.is_file():
            path = ccp / TAGS_DIR / f"{stem}.mat"
        out[stem] = coarse_category(map_to_modanet(read_ccp_labels(path, names), "ccp"))
    return out


def segment(ccp: Path, stems: list[str], threads: int) -> dict[str, dict]:
    """stem -> {"person_area", "areas"} of the photo's outfits summed (cached)."""
    import hashlib

    import torch

    from fashionlens.models.segmenters.unet import SHIPPED_WEIGHTS, UNetSegmenter

    CACHE.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(SHIPPED_WEIGHTS.read_bytes()).hexdigest()[:12]  # new weights: new maps
    path = CACHE / f"unet_outfits.{key}.json"
    cache: dict[str, dict] = json.loads(path.read_text()) if path.is_file() else {}
    todo = [s for s in stems if s not in cache]
    if todo:
        torch.set_num_threads(threads)
        unet = UNetSegmenter(weights="shipped", batch_size=4)
        unet.setup()
        start = time.perf_counter()
        for b in range(0, len(todo), 8):
            chunk = todo[b : b + 8]
            maps = unet.predict([np.asarray(open_rgb(ccp / "photos" / f"{s}.jpg")) for s in chunk])
            for stem, (seg, conf) in zip(chunk, maps, strict=True):
                outfit = photo_outfit(outfits_from_segmentation(seg, conf))
                cache[stem] = {"person_area": outfit.person_area, "areas": outfit.areas}
            if (b // 8) % 25 == 0:
                path.write_text(json.dumps(cache))
                print(f"  segmented {b + len(chunk)}/{len(todo)} ({time.perf_counter() - start:.0f}s)")
        path.write_text(json.dumps(cache))
        print(f"segmented {len(todo)} photos in {time.perf_counter() - start:.0f}s")
    return cache


def embed(ccp: Path, stems: list[str], threads: int) -> dict[str, np.ndarray]:
    import torch

    from fashionlens.models.registry import create_backbone

    path = CACHE / "mobilenet_v2.imagenet.npz"
    cache = dict(np.load(path)) if path.is_file() else {}
    todo = [s for s in stems if s not in cache]
    if todo:
        torch.set_num_threads(threads)
        backbone = create_backbone("mobilenet_v2.imagenet")
        from PIL import Image

        for b in range(0, len(todo), 32):
            chunk = todo[b : b + 32]
            images = [Image.fromarray(np.asarray(open_rgb(ccp / "photos" / f"{s}.jpg"))) for s in chunk]
            for stem, v in zip(chunk, backbone.embed(images), strict=True):
                cache[stem] = v
        np.savez(path, **cache)
    return cache


def scores(y: list[str], pred: list[str]) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return float(accuracy_score(y, pred)), float(f1_score(y, pred, average="macro", zero_division=0))


def mcnemar(truth: list[str], a: list[str], b: list[str]) -> tuple[int, int, float]:
    """Exact McNemar test on paired predictions: (a right & b wrong, b right & a wrong, p)."""
    from scipy.stats import binomtest

    won = sum(x == t and y != t for t, x, y in zip(truth, a, b, strict=True))
    lost = sum(y == t and x != t for t, x, y in zip(truth, a, b, strict=True))
    p = binomtest(min(won, lost), won + lost, 0.5).pvalue if won + lost else 1.0
    return won, lost, float(p)


def rule_predictions(rule: GarmentRule, outfits: dict[str, dict], stems: list[str]) -> list[str]:
    from fashionlens.analysis.trends.outfit import Outfit

    return [rule.category(Outfit(outfits[s]["person_area"], outfits[s]["areas"]).shares) for s in stems]


def tune(outfits: dict[str, dict], y: dict[str, str], train: list[str]) -> GarmentRule:
    """Grid search on the training photos: one threshold, then per-class for the rule's key classes."""
    grid = [0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.16, 0.2, 0.25, 0.3, 0.4]
    truth = [y[s] for s in train]

    def acc(rule: GarmentRule) -> float:
        return scores(truth, rule_predictions(rule, outfits, train))[0]

    best = max((GarmentRule(min_share=g, class_min_share={}) for g in grid), key=acc)
    print(f"tune (804 training photos): one threshold {best.min_share} -> accuracy {acc(best):.3f}")
    per_class = dict(best.class_min_share)
    for _, cls in itertools.product(range(2), ("dress", "outer", "top", "pants", "skirt", "shorts")):
        options = [GarmentRule(best.min_share, {**per_class, cls: g}) for g in grid]
        winner = max(options, key=acc)
        per_class = dict(winner.class_min_share)
    rule = GarmentRule(best.min_share, {c: v for c, v in per_class.items() if v != best.min_share})
    print(f"tune: per class {dict(rule.class_min_share)} -> accuracy {acc(rule):.3f}")
    return rule


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ccp", type=Path, default=ROOT.parent / "shared" / "data" / "ccp")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tune", action="store_true", help="search the thresholds on the training photos")
    args = parser.parse_args()
    from sklearn.metrics import classification_report

    from fashionlens.models.heads.linear_probe import LinearProbe

    train, held = ccp_pixel_split(args.ccp)
    tags = sorted(p.stem for p in (args.ccp / TAGS_DIR).glob("*.mat") if p.stem not in DUPLICATES)
    stems = train + held + tags
    y = labels(args.ccp, stems)
    outfits = segment(args.ccp, stems, args.threads)
    vectors = embed(args.ccp, stems, args.threads)
    rule = tune(outfits, y, train) if args.tune else GarmentRule()
    print(f"rule: min_share {rule.min_share}, per class {dict(rule.class_min_share)}")
    print(f"class counts: train {dict(Counter(y[s] for s in train))}")

    def probe(fit_on: list[str]) -> LinearProbe:
        x = np.stack([vectors[s] for s in fit_on])
        return LinearProbe(backbone_id="mobilenet_v2.imagenet", task="category").fit(
            x, [y[s] for s in fit_on]
        )

    probe_train = probe(train)
    probe_more = probe(train + tags)
    majority, _ = Counter(y[s] for s in train).most_common(1)[0]
    for name, test in (
        ("held out (200 pixel-labelled photos)", held),
        ("tags (1,093 photos)", tags),
        ("both (1,293 photos)", held + tags),
    ):
        truth = [y[s] for s in test]
        x = np.stack([vectors[s] for s in test])
        rows = [
            ("garments (U-Net + seed rule)", rule_predictions(rule, outfits, test)),
            ("probe, trained on the 804", probe_train.predict(x)[0]),
        ]
        if test is held:
            rows.append(("probe, trained on 804 + 1,093 tag photos", probe_more.predict(x)[0]))
        rows.append((f"majority class ({majority})", [majority] * len(test)))
        print(f"\n{name}: {dict(Counter(truth))}")
        for method, pred in rows:
            accuracy, f1 = scores(truth, pred)
            print(f"  {method:42s} accuracy {accuracy:.3f}  macro-F1 {f1:.3f}")
        base = scores(truth, rows[1][1])[0]
        won, lost, p = mcnemar(truth, rows[0][1], rows[1][1])
        print(
            f"  garments / probe accuracy ratio {scores(truth, rows[0][1])[0] / base:.2f}x; "
            f"photos only garments got right {won}, only the probe {lost}, exact McNemar p = {p:.2g}"
        )
        if test is held:
            print(classification_report(truth, rows[0][1], zero_division=0, digits=3))


if __name__ == "__main__":
    main()
