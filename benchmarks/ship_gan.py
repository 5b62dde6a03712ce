"""Export a trained DCGAN run as the shipped fp16 generator, with its model card (json + md).

    python benchmarks/ship_gan.py --run RUN_DIR --command "fashionlens train gan ..." \
        [--bench bench_gan.json] [--uncond-run RUN_DIR] [--note "..."] \
        [--out src/fashionlens/models/shipped/dcgan_cond.products.pt]

The card records the data, the exact training command, where and how long it trained, the
per-epoch losses and KID from the run's checkpoint, and (with ``--bench``) the figures
`bench_gan.py` measured for this file.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from fashionlens.models.generators.dcgan import SHIPPED_WEIGHTS
from fashionlens.training.gan import export_generator
from fashionlens.training.kit import load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="the training run folder (checkpoints/last.pt)")
    ap.add_argument("--command", action="append", required=True, help="the command(s) that trained it")
    ap.add_argument("--bench", type=Path, default=None, help="bench_gan.py --json output for this file")
    ap.add_argument(
        "--uncond-run", type=Path, default=None, help="the unconditional run it was compared with"
    )
    ap.add_argument("--note", action="append", default=[], help="known weaknesses, caveats")
    ap.add_argument("--out", type=Path, default=SHIPPED_WEIGHTS)
    args = ap.parse_args()

    ckpt = args.run / "checkpoints" / "last.pt"
    ck = load_checkpoint(ckpt)
    model_id = args.out.name.removesuffix(".pt")
    path = export_generator(ckpt, args.out, extra={"model_id": model_id})
    config = ck.get("config") or {}
    spec = ck["spec"]
    history = ck.get("epochs", [])
    card = {
        "model_id": model_id,
        "architecture": (
            "DCGAN (PyTorch DCGAN tutorial): G = ConvTranspose+BN+ReLU x4, Tanh; "
            "D = strided Conv+BN+LeakyReLU(0.2), Sigmoid; nz 100, ngf = ndf = 64, 64x64 RGB; "
            "N(0, 0.02) init; BCE; Adam lr 2e-4 beta1 0.5, batch 128"
        ),
        "conditioning": (
            "conditional DCGAN: learned 32-d embeddings of article type and colour group concatenated "
            "to z; projection discriminator (Miyato & Koyama 2018): logit + <V[y], sum-pooled "
            "features> per attribute"
        ),
        "labels": spec.get("labels", []),
        "colours": spec.get("colours", []),
        "data": (
            "the product catalogue (Fashion Product Images small format, ../shared/data/products: "
            "styles.csv + images/<id>.jpg), each photo padded to square on white, 256x256 (seed 002), "
            f"then 64x64; articleType top {config.get('top_labels')} by training count, the rest "
            "'other'; colour group of baseColour"
        ),
        "held_out": (
            f"{config.get('holdout_fraction')} of products by crc32(id) mod 10000 "
            "(training.gan.held_out_mask), never trained on; used for the per-epoch KID and the benchmark"
        ),
        "commands": args.command,
        "config": config,
        "epochs": int(ck.get("epoch", 0)),
        "train_seconds": round(float(ck.get("seconds", 0.0)), 1),
        "history": history,
        "weights_file": path.name,
        "weights_bytes": path.stat().st_size,
        "weights_dtype": "float16",
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, CPU only, shared 2-core VM, 1 torch thread, nice 10",
        "notes": args.note,
    }
    if args.uncond_run:
        uck = load_checkpoint(args.uncond_run / "checkpoints" / "last.pt")
        card["uncond_history"] = uck.get("epochs", [])
    if args.bench:
        card["benchmark"] = json.loads(args.bench.read_text())
        card["benchmark_command"] = "python benchmarks/bench_gan.py (see README)"
    card_path = args.out.with_suffix(".json")
    card_path.write_text(json.dumps(card, indent=1))
    card_path.with_suffix(".md").write_text(markdown(card))
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB), {card_path} and {card_path.with_suffix('.md')}"
    )


def markdown(card: dict) -> str:
    lines = [
        f"# {card['model_id']}",
        "",
        f"- Architecture: {card['architecture']}.",
        f"- Conditioning: {card['conditioning']}.",
        f"- Article types: {', '.join(card['labels'])}.",
        f"- Colour groups: {', '.join(card['colours'])}.",
        f"- Data: {card['data']}.",
        f"- Held out: {card['held_out']}.",
        f"- Trained: {card['epochs']} epochs, {card['train_seconds'] / 60:.0f} min of training loop on "
        f"{card['machine']} (torch {card['torch']}).",
        f"- Weights: {card['weights_file']}, {card['weights_bytes'] / 1e6:.1f} MB {card['weights_dtype']}.",
        "",
        "## Commands",
        "",
        *[f"    {c}" for c in card["commands"]],
        "",
        "## Per epoch (KID: 256 samples vs 256 held-out products, MobileNetV2 features)",
        "",
        "| epoch | loss D | loss G | D(x) | D(G(z)) | KID | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in card["history"]:
        kid = "" if r.get("kid") is None else f"{r['kid']:.3f}"
        lines.append(
            f"| {r['epoch']} | {r['loss_d']:.3f} | {r['loss_g']:.3f} | {r['d_x']:.3f} | {r['d_g_z2']:.3f} "
            f"| {kid} | {r['seconds']:.0f} |"
        )
    bench = card.get("benchmark")
    if bench:
        lines += [
            "",
            f"## Benchmark (n = {bench['n_candidate']} per set vs {bench['n_reference']} held-out real)",
            "",
        ]
        lines += ["| set | KID | precision | recall | density | coverage | memorisation (feat / px) |"]
        lines += ["|---|---|---|---|---|---|---|"]
        for name, m in bench["metrics"].items():
            mem = f"{m['memorisation_ratio_features']} / {m['memorisation_ratio_pixels']}"
            lines.append(
                f"| {name} | {m['kid']} ± {m['kid_std']} | {m['precision']} | {m['recall']} | "
                f"{m['density']} | {m['coverage']} | {mem} |"
            )
        for name, f in (bench.get("fid") or {}).items():
            lines.append(f"\nFID {name}: {f['fid']} (n {f['n'][0]} vs {f['n'][1]})")
    if card["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in card["notes"]]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
