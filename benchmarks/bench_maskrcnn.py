"""COCO box/mask AP of a Mask R-CNN checkpoint on the CCP segmentation test split (200 held-out photos).

    python benchmarks/bench_maskrcnn.py runs/maskrcnn_ccp_mnv2.pt [--data ../shared/data] [--limit N]

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

from fashionlens.analysis.coco_metrics import evaluate_maskrcnn
from fashionlens.ingest.ccp import ccp_pixel_split
from fashionlens.ingest.ccp_coco import ccp_to_coco
from fashionlens.ingest.coco import ROBOFLOW_ANNOTATIONS

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--coco-dir", type=Path, help="folder with test/_annotations.coco.json (write_ccp_coco)")
    p.add_argument("--limit", type=int, help="evaluate the first N test photos only")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    ccp = args.data / "ccp"
    with tempfile.TemporaryDirectory() as tmp:
        test_json = args.coco_dir / "test" / ROBOFLOW_ANNOTATIONS if args.coco_dir else None
        if test_json is None or not test_json.is_file():
            import json

            _, test = ccp_pixel_split(ccp)
            test_json = Path(tmp) / ROBOFLOW_ANNOTATIONS
            test_json.write_text(json.dumps(ccp_to_coco(ccp, test)), encoding="utf-8")
        start = time.perf_counter()
        m = evaluate_maskrcnn(args.checkpoint, test_json, None, args.limit, num_threads=args.threads)
        seconds = time.perf_counter() - start
    print(f"{args.checkpoint.name} on CCP test: {m['images']} photos, {m['gt_instances']} garment instances")
    print(f"  box  AP {m['bbox_ap']:.3f}  AP50 {m['bbox_ap50']:.3f}")
    print(f"  mask AP {m['segm_ap']:.3f}  AP50 {m['segm_ap50']:.3f}")
    rate = f"{m['images_per_s']:.2f} images/s (model only)"
    print(f"  {m['detections']} detections; {rate}; {seconds:.0f} s total")


if __name__ == "__main__":
    main()
