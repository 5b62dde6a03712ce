"""Export a trained Mask R-CNN as the shipped fp16 model, score the exported file on the 200 held-out
CCP photos beside the U-Net baseline, and write its card (json + md).

    python benchmarks/ship_maskrcnn.py runs/maskrcnn_unet_init.pt --command "fashionlens segment ..." \
        [--coco-dir runs/ccp_coco] [--threads 2] [--note "..."] \
        [--out src/fashionlens/models/shipped/maskrcnn_mobilenet_v2_fpn.ccp.pt]

The figures in the card are measured on the exported fp16 file, not on the training checkpoint.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path
from typing import Any

import torch

from fashionlens.analysis.coco_metrics import UNetInstances, evaluate_maskrcnn
from fashionlens.ingest.ccp import ccp_pixel_split
from fashionlens.ingest.ccp_coco import ccp_to_coco
from fashionlens.ingest.coco import ROBOFLOW_ANNOTATIONS
from fashionlens.models.segmenters.maskrcnn import SHIPPED_CHECKPOINT, export_maskrcnn, load_checkpoint
from fashionlens.models.segmenters.unet import UNetSegmenter

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("ap", "ap50", "ap_small", "ap_medium", "ap_large")


def _row(name: str, m: dict[str, Any]) -> str:
    box = " | ".join(f"{m[f'bbox_{k}']:.3f}" for k in KEYS)
    mask = " | ".join(f"{m[f'segm_{k}']:.3f}" for k in KEYS)
    return f"| {name} | {box} | {mask} | {m['images_per_s']:.2f} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, help="a train-maskrcnn checkpoint")
    ap.add_argument("--command", action="append", required=True, help="the command(s) that trained it")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--coco-dir", type=Path, help="folder with test/_annotations.coco.json")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--note", action="append", default=[], help="known weaknesses, caveats")
    ap.add_argument("--where", default="this project's 2-core CPU, 1 thread", help="where it trained")
    ap.add_argument("--out", type=Path, default=SHIPPED_CHECKPOINT)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    ck = load_checkpoint(args.checkpoint)
    model_id = args.out.name.removesuffix(".pt")
    path = export_maskrcnn(args.checkpoint, args.out, extra={"model_id": model_id})
    with tempfile.TemporaryDirectory() as tmp:
        test_json = args.coco_dir / "test" / ROBOFLOW_ANNOTATIONS if args.coco_dir else None
        if test_json is None or not test_json.is_file():
            _, test = ccp_pixel_split(args.data / "ccp")
            test_json = Path(tmp) / ROBOFLOW_ANNOTATIONS
            test_json.write_text(json.dumps(ccp_to_coco(args.data / "ccp", test)), encoding="utf-8")
        shipped = evaluate_maskrcnn(path, test_json, num_threads=args.threads)
        unet = evaluate_maskrcnn(UNetInstances(UNetSegmenter()), test_json)
    config = dict(ck["config"])
    history = list(ck.get("history", []))
    card = {
        "model_id": model_id,
        "architecture": (
            "torchvision MaskRCNN over MobileNetV2 (frozen BatchNorm, blocks 0-6 frozen) with a 128-channel "
            "FPN on the stride 8/16/32 stages, anchors 16-256 px x 3 ratios, 512-d box head, 4x128 mask head"
        ),
        "init": "ImageNet MobileNetV2, blocks 0..17 then from the shipped CCP U-Net encoder"
        if config.get("encoder")
        else "ImageNet MobileNetV2",
        "classes": "13 ModaNet garment classes + background",
        "data": "Clothing Co-Parsing (CCP) pixel-level photos converted to COCO instances "
        "(one per connected garment region), ccp_pixel_split train stems",
        "held_out": "ccp_pixel_split test stems (every 5th photo, 200), COCO AP (pycocotools)",
        "command": args.command,
        "config": config,
        "history": history,
        "train_seconds": round(sum(h.get("seconds", 0.0) for h in history)),
        "trained_on": args.where,
        "weights_file": path.name,
        "weights_bytes": path.stat().st_size,
        "weights_dtype": "float16",
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, CPU",
        "evaluation": {"shipped_fp16": shipped, "unet_regions_baseline": unet},
        "notes": args.note,
    }
    path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    head = " | ".join(f"box {k}" for k in KEYS) + " | " + " | ".join(f"mask {k}" for k in KEYS)
    lines = [
        f"# {model_id}: Mask R-CNN for garments, trained on CCP",
        "",
        f"- **What**: {card['architecture']}; {card['classes']}; fp16, "
        f"{path.stat().st_size / 1e6:.1f} MB. Used by `fashionlens segment garments --maskrcnn shipped` "
        "and `fashionlens serve --maskrcnn shipped` (the webcam page's side-by-side view).",
        f"- **Init**: {card['init']}.",
        f"- **Data**: {card['data']} ({len(history) and history[-1].get('iters', 0) * config['batch_size']} "
        "photos per epoch).",
        f"- **Training**: {config['epochs']} epochs, batch {config['batch_size']}, {config['optimizer']} lr "
        f"{config['lr']} (warm-up + cosine), shorter side {config['min_size']} px (longer <= "
        f"{config['max_size']}), flips/rotations/colour jitter; {card['train_seconds']} s on {args.where}.",
        "- **Commands**: " + "; ".join(f"`{c}`" for c in args.command),
        "",
        f"## COCO AP on the {shipped['images']} held-out CCP photos "
        f"({shipped['gt_instances']} garments), one run",
        "",
        f"| model | {head} | photos/s |",
        "|---|" + "---|" * (2 * len(KEYS) + 1),
        _row("**shipped (fp16)**", shipped),
        _row("U-Net regions (the shipped U-Net, same metric)", unet),
        "",
        "Measured by `python benchmarks/ship_maskrcnn.py` (again: `python benchmarks/bench_maskrcnn.py`).",
    ]
    if args.note:
        lines += ["", "## Notes", "", *[f"- {n}" for n in args.note]]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
