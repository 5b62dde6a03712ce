"""People on held-out CCP photos: person-mask IoU and detection recall, U-Net people vs HOG boxes.

    python benchmarks/bench_people.py               # the 200 held-out photos (ccp_pixel_split)
    python benchmarks/bench_people.py --limit 40

Ground truth: CCP's pixel labels; the person is every non-background pixel, their box its extent.
Single photos hold one person each; to test "two people, two crops" every consecutive pair of
held-out photos is also put side by side (cropped to the shorter height) as one photo with two.

- person-mask IoU: `find_people` masks (union) vs the truth, per photo, then the mean, and the IoU
  pooled over all pixels;
- detection recall: the share of true people matched (IoU >= 0.5, one-to-one, greedy by IoU) by a
  predicted person box; precision: the share of predicted boxes that matched; exact count: photos
  with as many people found as there are;
- the same recall/precision for OpenCV's HOG detector alone, as the offline baseline;
- photos/s of the U-Net people path and of HOG on the same photos, in this run;
- ``--pipeline N``: photos/s of `segment_catalog` (task garments: decode, U-Net, people, garments,
  colours, crops, crop vectors, overlay, store) on N held-out photos in a temporary catalogue.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fashionlens.core.segmentation import ccp_to_semantic, mask_to_xyxy
from fashionlens.ingest.ccp import ccp_label_names, ccp_pixel_split, load_ccp_mask
from fashionlens.models.segmenters.people import find_people
from fashionlens.models.segmenters.person_detector import HogPersonDetector, box_iou
from fashionlens.models.segmenters.unet import UNetSegmenter

DEFAULT_CCP = Path(__file__).resolve().parents[2] / "shared" / "data" / "ccp"


def match(pred: np.ndarray, truth: np.ndarray, thr: float = 0.5) -> int:
    """Greedy one-to-one matches with IoU >= thr."""
    if len(pred) == 0 or len(truth) == 0:
        return 0
    iou = box_iou(pred, truth)
    n = 0
    while iou.size and iou.max() >= thr:
        i, j = np.unravel_index(int(iou.argmax()), iou.shape)
        iou[i, :] = -1
        iou[:, j] = -1
        n += 1
    return n


def main() -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--ccp", type=Path, default=DEFAULT_CCP)
    parser.add_argument("--limit", type=int, default=0, help="0: all held-out photos")
    parser.add_argument("--weights", default="shipped")
    parser.add_argument("--pipeline", type=int, default=40, help="photos for the end-to-end timing (0: skip)")
    args = parser.parse_args()

    names = ccp_label_names(args.ccp)
    _, test = ccp_pixel_split(args.ccp)
    if args.limit:
        test = test[: args.limit]
    photos = []
    for stem in test:
        rgb = np.asarray(Image.open(args.ccp / "photos" / f"{stem}.jpg").convert("RGB"))
        seg = ccp_to_semantic(load_ccp_mask(args.ccp / "annotations" / "pixel-level" / f"{stem}.mat"), names)
        photos.append((rgb, [seg != 0]))
    pairs = []
    for (a, ma), (b, mb) in zip(photos[0::2], photos[1::2], strict=False):
        h = min(a.shape[0], b.shape[0])
        wa = a.shape[1]
        rgb = np.concatenate([a[:h], b[:h]], axis=1)
        left = np.zeros(rgb.shape[:2], bool)
        left[:, :wa] = ma[0][:h]
        right = np.zeros(rgb.shape[:2], bool)
        right[:, wa:] = mb[0][:h]
        pairs.append((rgb, [left, right]))

    segmenter = UNetSegmenter(weights=args.weights)
    segmenter.setup()
    hog = HogPersonDetector()
    hog.setup()
    print(f"{len(photos)} held-out CCP photos + {len(pairs)} two-person composites; {segmenter.model_id}")
    print(f"{'set':<12} {'method':<14} {'mean IoU':>8} {'pooled':>7} {'recall':>7} {'precision':>9} "
          f"{'exact n':>8} {'photos/s':>8}")  # fmt: skip
    for label, items in (("single", photos), ("two people", pairs)):
        ious, inter, union = [], 0, 0
        stats = {"unet": [0, 0, 0, 0, 0.0], "hog": [0, 0, 0, 0, 0.0]}  # matched, truths, preds, exact, s
        for rgb, masks in items:
            truth_mask = np.logical_or.reduce(masks)
            truth_boxes = np.stack([mask_to_xyxy(m) for m in masks])
            t0 = time.perf_counter()
            seg, conf = segmenter.predict([rgb])[0]
            people = find_people(seg, conf, detect=lambda rgb=rgb: hog.detect(rgb).xyxy)  # as segment_catalog
            t1 = time.perf_counter()
            hog_boxes = hog.detect(rgb).xyxy
            t2 = time.perf_counter()
            pred_mask = people.masks.any(axis=0) if len(people) else np.zeros_like(truth_mask)
            i, u = int((pred_mask & truth_mask).sum()), int((pred_mask | truth_mask).sum())
            ious.append(i / max(u, 1))
            inter, union = inter + i, union + u
            for key, boxes, secs in (("unet", people.xyxy, t1 - t0), ("hog", hog_boxes, t2 - t1)):
                s = stats[key]
                s[0] += match(boxes, truth_boxes)
                s[1] += len(truth_boxes)
                s[2] += len(boxes)
                s[3] += len(boxes) == len(truth_boxes)
                s[4] += secs
        for key, s in stats.items():
            method = "U-Net people" if key == "unet" else "HOG boxes"
            miou = f"{np.mean(ious):8.3f}" if key == "unet" else f"{'-':>8}"
            pooled = f"{inter / max(union, 1):7.3f}" if key == "unet" else f"{'-':>7}"
            print(
                f"{label:<12} {method:<14} {miou} {pooled} {s[0] / max(s[1], 1):7.3f} "
                f"{s[0] / max(s[2], 1):9.3f} {s[3] / len(items):8.3f} {len(items) / max(s[4], 1e-9):8.2f}"
            )

    if args.pipeline:
        pipeline_speed(args.ccp, test[: args.pipeline], segmenter, hog)


def pipeline_speed(ccp: Path, stems: list[str], segmenter: UNetSegmenter, hog: HogPersonDetector) -> None:
    import tempfile

    from fashionlens.ingest.base import make_record
    from fashionlens.jobs.segment import segment_catalog
    from fashionlens.models.registry import create_backbone
    from fashionlens.store.catalog import Catalog

    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog(Path(tmp) / "db")
        records = [make_record(ccp / "photos" / f"{s}.jpg", source="street", dataset="ccp") for s in stems]
        catalog.upsert_images([r for r in records if not hasattr(r, "reason")])
        backbone = create_backbone("mobilenet_v2.imagenet")
        backbone.setup()
        report = segment_catalog(
            catalog, segmenter, Path(tmp) / "out", task="garments", backbone=backbone, detector=hog
        )
        print(
            f"segment garments end to end: {report.done} photos, {report.people} people, "
            f"{report.garments} garments, {report.images_per_second:.2f} photos/s"
        )


if __name__ == "__main__":
    main()
