"""Held-out scores of the U-Net garment segmenter on CCP, next to a trivial baseline.

    python benchmarks/bench_unet.py [--ccp ../shared/data/ccp] [--weights PATH] [--limit N]
                                    [--threads 1] [--baseline] [--json out.json]
                                    [--compare NAME=PATH ...] [--flip]

``--compare`` scores more U-Net weights in the same run (e.g. a class-balanced retrain next to the
shipped model); ``--flip`` also scores every model with test-time flip (the logits of the photo
and its mirror averaged), with its throughput.

Scores the 200 held-out photos of `ccp_pixel_split` (every 5th) at the truth masks' original
resolution: per-class IoU over `seg_classes`, garment mIoU (over the garment classes present in the
truth), person IoU (any non-background class), pixel accuracy, and predict throughput (images/s,
decoding and scoring excluded). ``--baseline`` also scores the "location prior": every pixel gets
the class most frequent at that (letterboxed) position over the training masks.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from fashionlens.analysis.segmentation import SegEvalReport, evaluate_unet
from fashionlens.core.segmentation import seg_classes
from fashionlens.ingest.ccp import ccp_pixel_split
from fashionlens.models.segmenters.unet import UNetSegmenter, letterbox_geometry
from fashionlens.training.unet import preload

ROOT = Path(__file__).resolve().parents[1]
PRIOR_HW = (96, 64)


class LocationPrior:
    """Per-pixel majority class of the letterboxed training masks, mapped back to each image."""

    model_id = "location-prior.ccp"

    def __init__(self, ccp_root: Path, stems: Sequence[str]) -> None:
        _, masks = preload(ccp_root, stems, PRIOR_HW)
        counts = np.stack([(masks == c).sum(axis=0) for c in range(len(seg_classes()))])
        self.prior = counts.argmax(axis=0).astype(np.uint8)

    def predict(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for im in images:
            h, w = im.shape[:2]
            top, left, nh, nw = letterbox_geometry((h, w), PRIOR_HW)
            crop = self.prior[top : top + nh, left : left + nw]
            rows = np.minimum((np.arange(h) * nh / h).astype(int), nh - 1)
            cols = np.minimum((np.arange(w) * nw / w).astype(int), nw - 1)
            out.append((crop[rows][:, cols], np.ones((h, w), np.float32)))
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ccp", type=Path, default=ROOT.parent / "shared" / "data" / "ccp")
    ap.add_argument("--weights", default="shipped", help="'shipped' or a weights file")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N held-out photos")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--baseline", action="store_true", help="also score the location-prior baseline")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    ap.add_argument("--compare", action="append", default=[], help="NAME=PATH: more weights to score")
    ap.add_argument("--flip", action="store_true", help="also score each model with test-time flip")
    args = ap.parse_args()

    train, test = ccp_pixel_split(args.ccp)
    test = test[: args.limit] if args.limit else test
    seg = UNetSegmenter(args.weights, num_threads=args.threads, batch_size=args.batch_size)
    seg.setup()
    seg.predict([np.zeros((64, 48, 3), np.uint8)])  # warm-up
    start = time.perf_counter()
    report = evaluate_unet(seg, args.ccp, test, batch_size=args.batch_size)
    print(f"{seg.model_id} ({seg.weights_path}, input {seg.input_hw}, {args.threads} thread(s)), ", end="")
    print(f"{len(test)} held-out CCP photos, {time.perf_counter() - start:.0f} s")
    reports: dict[str, SegEvalReport] = {"unet": report}
    models = {"unet": seg}
    for item in args.compare:
        name, _, path = item.partition("=")
        other = UNetSegmenter(path, num_threads=args.threads, batch_size=args.batch_size)
        reports[name] = evaluate_unet(other, args.ccp, test, batch_size=args.batch_size)
        models[name] = other
    if args.flip:
        for name, model in list(models.items()):
            model.flip = True
            reports[f"{name}+flip"] = evaluate_unet(model, args.ccp, test, batch_size=args.batch_size)
            model.flip = False
    if args.baseline:
        reports["location_prior"] = evaluate_unet(LocationPrior(args.ccp, train), args.ccp, test)
    names = list(reports)
    print(f"{'class':<13}" + "".join(f"{n:>16}" for n in names))
    for cls in seg_classes():
        vals = [reports[n].per_class_iou[cls] for n in names]
        print(f"{cls:<13}" + "".join(f"{'-' if v is None else f'{v:.3f}':>16}" for v in vals))
    for label, attr in (
        ("garment mIoU", "garment_miou"),
        ("person IoU", "person_iou"),
        ("pixel acc", "pixel_accuracy"),
        ("images/s", "images_per_s"),
    ):
        print(f"{label:<13}" + "".join(f"{getattr(reports[n], attr):>16.3f}" for n in names))
    if args.json:
        args.json.write_text(json.dumps({n: asdict(r) for n, r in reports.items()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
