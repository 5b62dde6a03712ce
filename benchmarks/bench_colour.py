"""Dominant colour naming vs the catalogue's baseColour groups, next to the HSV-interval baseline.

    python benchmarks/bench_colour.py [--data ../shared/data] [--subset held-out|tuning] [--limit N]

Products whose baseColour has a group (``colour_group``; Multi/NA/Metallic are left out) are split
deterministically by product id: ``crc32(id) % 5 == 0`` is the held-out subset (~20%, reported),
the rest is the tuning set (the only one used to choose prototypes and thresholds). Both methods
see the same decoded images; images/s counts the method call only (decoding is shared).
"""

from __future__ import annotations

import argparse
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from fashionlens.core.labels import colour_group, colour_names
from fashionlens.ingest.images import open_rgb
from fashionlens.ingest.products import read_styles_csv
from fashionlens.models.colour.naming import baseline_colour, dominant_colours


def is_held_out(product_id: str) -> bool:
    return zlib.crc32(product_id.encode()) % 5 == 0


def subset(root: Path, which: str) -> list[tuple[str, str]]:
    """``(id, group)`` of the products in ``which`` subset whose photo exists, in csv order."""
    out = []
    for row in read_styles_csv(root / "styles.csv"):
        group = colour_group(row["baseColour"])
        if group is None or is_held_out(row["id"]) != (which == "held-out"):
            continue
        if (root / "images" / f"{row['id']}.jpg").is_file():
            out.append((row["id"], group))
    return out


def confusions(truth: list[str], pred: list[str], top: int = 10) -> str:
    pairs = Counter((t, p) for t, p in zip(truth, pred, strict=True) if t != p)
    return ", ".join(f"{t}->{p} {n}" for (t, p), n in pairs.most_common(top))


def confusion_matrix(truth: list[str], pred: list[str]) -> str:
    names = colour_names()
    short = [n[:5] for n in names]
    lines = ["true \\ pred " + " ".join(f"{s:>5}" for s in short)]
    for t in names:
        row = Counter(p for tt, p in zip(truth, pred, strict=True) if tt == t)
        lines.append(f"{t:>11} " + " ".join(f"{row.get(p, 0):>5}" for p in names))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--subset", choices=("held-out", "tuning"), default="held-out")
    parser.add_argument("--limit", type=int, default=None, help="only the first N products of the subset")
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args()

    root = args.data / "products"
    items = subset(root, args.subset)[: args.limit]
    truth = [g for _, g in items]
    images = [np.asarray(open_rgb(root / "images" / f"{pid}.jpg")) for pid, _ in items]

    start = time.perf_counter()
    ours = [dominant_colours(im, k=args.k) for im in images]
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    base = [baseline_colour(im) for im in images]
    base_s = time.perf_counter() - start
    uniform = [dominant_colours(im, k=args.k, centre_sigma=None)[0].name for im in images]

    top1 = [c[0].name for c in ours]
    top2 = [[s.name for s in c[:2]] for c in ours]
    n = len(items)
    acc1 = sum(t == p for t, p in zip(truth, top1, strict=True)) / n
    acc2 = sum(t in p for t, p in zip(truth, top2, strict=True)) / n
    accb = sum(t == p for t, p in zip(truth, base, strict=True)) / n
    print(
        f"products {args.subset} subset (crc32(id) % 5 {'==' if args.subset == 'held-out' else '!='} 0): {n}"
    )
    print(
        f"  dominant_colours top-1 agreement {acc1:.3f}   top-2 {acc2:.3f}   "
        f"({n / ours_s:.1f} img/s, k={args.k})"
    )
    print(f"  HSV-interval baseline agreement  {accb:.3f}   ({n / base_s:.1f} img/s)")
    accu = sum(t == p for t, p in zip(truth, uniform, strict=True)) / n
    print(f"  ratio top-1 / baseline {acc1 / accb:.2f}x")
    only_ours = sum(t == a != b for t, a, b in zip(truth, top1, base, strict=True))
    only_base = sum(t == b != a for t, a, b in zip(truth, top1, base, strict=True))
    p_value = binomtest(only_ours, only_ours + only_base).pvalue if only_ours + only_base else 1.0
    print(
        f"  paired: only dominant_colours right {only_ours}, only the baseline right {only_base} "
        f"(exact McNemar p = {p_value:.1e})"
    )
    print(f"  ablation: dominant_colours without the centre weighting, top-1 {accu:.3f}")
    print("  per colour (n: top-1 / top-2 / baseline):")
    for name in colour_names():
        idx = [i for i, t in enumerate(truth) if t == name]
        if not idx:
            continue
        a1 = np.mean([top1[i] == name for i in idx])
        a2 = np.mean([name in top2[i] for i in idx])
        ab = np.mean([base[i] == name for i in idx])
        print(f"    {name:>7} {len(idx):>4}: {a1:.2f} / {a2:.2f} / {ab:.2f}")
    print(f"  most frequent confusions, ours:     {confusions(truth, top1)}")
    print(f"  most frequent confusions, baseline: {confusions(truth, base)}")
    print("  confusion matrix, dominant_colours top-1:")
    print(confusion_matrix(truth, top1))


if __name__ == "__main__":
    main()
