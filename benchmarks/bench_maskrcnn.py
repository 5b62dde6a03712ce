"""COCO box/mask AP of a Mask R-CNN checkpoint on the CCP segmentation test split (200 held-out photos).

    python benchmarks/bench_maskrcnn.py                      # the shipped model, and the U-Net baseline
    python benchmarks/bench_maskrcnn.py runs/maskrcnn.pt --compare imagenet-init=runs/other.pt
    python benchmarks/bench_maskrcnn.py shipped --no-unet --limit 40 --json runs/bench_maskrcnn.json

AP, AP50 and AP over small (< 32x32 px), medium and large objects, for boxes and masks. The
baseline in the same run is the shipped U-Net scored the same way: its garment regions as
instances (`UNetInstances`), each scored by its mean confidence.

The CCP pixel maps are converted to COCO instances (`fashionlens.ingest.ccp_coco`, ModaNet classes,
one instance per connected garment region) into a temporary folder unless ``--coco-dir`` holds
``test/_annotations.coco.json`` already. Detections are kept from score 0.05, as COCO evaluation wants.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from fashionlens.analysis.coco_metrics import UNetInstances, evaluate_maskrcnn
from fashionlens.ingest.ccp import ccp_pixel_split
from fashionlens.ingest.ccp_coco import ccp_to_coco
from fashionlens.ingest.coco import ROBOFLOW_ANNOTATIONS
from fashionlens.models.segmenters.unet import UNetSegmenter

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", nargs="?", default="shipped", help="a checkpoint, or 'shipped'")
    p.add_argument("--compare", action="append", default=[], help="NAME=CHECKPOINT, evaluated too")
    p.add_argument("--no-unet", action="store_true", help="skip the U-Net baseline")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--coco-dir", type=Path, help="folder with test/_annotations.coco.json (write_ccp_coco)")
    p.add_argument("--limit", type=int, help="evaluate the first N test photos only")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    ccp = args.data / "ccp"
    models: list[tuple[str, Any]] = [(Path(args.checkpoint).name, args.checkpoint)]
    for item in args.compare:
        name, _, path = item.partition("=")
        models.append((name, path))
    if not args.no_unet:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        models.append(("U-Net regions (baseline)", UNetInstances(UNetSegmenter())))
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        test_json = args.coco_dir / "test" / ROBOFLOW_ANNOTATIONS if args.coco_dir else None
        if test_json is None or not test_json.is_file():
            import json

            _, test = ccp_pixel_split(ccp)
            test_json = Path(tmp) / ROBOFLOW_ANNOTATIONS
            test_json.write_text(json.dumps(ccp_to_coco(ccp, test)), encoding="utf-8")
        for name, model in models:
            start = time.perf_counter()
            m = evaluate_maskrcnn(model, test_json, None, args.limit, num_threads=args.threads)
            m["seconds"] = time.perf_counter() - start
            figures[name] = m
            print(f"{name} on CCP test: {m['images']} photos, {m['gt_instances']} garment instances")
            for kind, key in (("box ", "bbox"), ("mask", "segm")):
                sizes = "  ".join(f"AP-{s} {m[f'{key}_ap_{s}']:.3f}" for s in ("small", "medium", "large"))
                print(f"  {kind} AP {m[f'{key}_ap']:.3f}  AP50 {m[f'{key}_ap50']:.3f}  {sizes}")
            rate = f"{m['images_per_s']:.2f} images/s (model only)"
            print(f"  {m['detections']} detections; {rate}; {m['seconds']:.0f} s total", flush=True)
    if args.json:
        import json

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
