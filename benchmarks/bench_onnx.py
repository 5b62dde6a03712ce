"""torch eager vs ONNX Runtime fp32 vs int8: speed, retrieval accuracy and vector drift, one run.

    python benchmarks/bench_onnx.py                       # all 7.6k products, 256 for speed
    python benchmarks/bench_onnx.py --write-calibration   # re-measure the shipped int8 ranges first

Runtimes (the default backbone; the same real product photos for all):

- ``torch``: the library's torch path (batched, conv+BN folded, channels_last);
- ``onnx``: ``runtime="onnx"``, the cached fp32 export run by ONNX Runtime;
- ``onnx-int8``: ``runtime="onnx-int8"``, static QDQ int8 with the shipped calibration ranges;
- ``dynamic-int8``: ``onnxruntime.quantization.quantize_dynamic`` (per-channel int8 weights,
  ConvInteger) of the same fp32 export; benchmark only (``--no-dynamic`` skips it).

Speed: ``--n-speed`` photos decoded in memory; each repeat times every runtime back to back
(interleaved, so load from other jobs hits all of them alike): "embed" is `Backbone.embed` on PIL
images (resize + crop + network), "network" is the network alone on ready ``uint8`` crops. The
median over repeats counts; ratios are against torch.

Accuracy: products whose ``crc32(id) % 5 == 0`` are queries, the rest the gallery; P@1 is the
share of queries whose nearest gallery product (cosine) has the same ``articleType``. McNemar's
exact test compares each runtime's per-query hits with torch's. Vector drift: max |diff| and
cosine of every product's vector vs torch's.

``--write-calibration`` measures the int8 activation ranges on ``--calibration-images`` gallery
photos (never queries), evenly spaced by id, and writes
``src/fashionlens/models/shipped/<backbone>.int8-calibration.json``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fashionlens.core.settings import DEFAULT_BACKBONE, load_settings
from fashionlens.ingest.products import read_styles_csv
from fashionlens.models.backbones import onnx_runtime as ox
from fashionlens.models.backbones.torchvision_cnn import TorchvisionCNN
from fashionlens.models.registry import create_backbone

DEFAULT_PRODUCTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "products"


def load_products(root: Path, limit: int) -> tuple[list[str], list[str], list[Path]]:
    """(ids, articleTypes, image paths) of products with a photo, sorted by numeric id."""
    rows = [r for r in read_styles_csv(root / "styles.csv") if r.get("articleType")]
    rows = [r for r in rows if (root / "images" / f"{r['id']}.jpg").is_file()]
    rows.sort(key=lambda r: int(r["id"]))
    if limit and limit < len(rows):
        rows = [rows[i] for i in np.linspace(0, len(rows) - 1, limit).round().astype(int)]
    return (
        [r["id"] for r in rows],
        [r["articleType"] for r in rows],
        [root / "images" / f"{r['id']}.jpg" for r in rows],
    )


def is_query(product_id: str) -> bool:
    return zlib.crc32(product_id.encode()) % 5 == 0


def decode(paths: list[Path]) -> list[Image.Image]:
    out = []
    for p in paths:
        with Image.open(p) as im:
            out.append(im.convert("RGB"))
    return out


def embed_all(backbone: TorchvisionCNN, paths: list[Path], chunk: int = 256) -> np.ndarray:
    return np.concatenate([backbone.embed(decode(paths[i : i + chunk])) for i in range(0, len(paths), chunk)])


def p_at_1(vectors: np.ndarray, labels: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Per-query hit (nearest gallery item has the same label), cosine on L2-normalised rows."""
    gallery = ~query
    sims = vectors[query] @ vectors[gallery].T
    nearest = np.argmax(sims, axis=1)
    return labels[gallery][nearest] == labels[query]


def mcnemar_p(a: np.ndarray, b: np.ndarray) -> tuple[int, int, float]:
    """(a right & b wrong, a wrong & b right, exact two-sided McNemar p-value)."""
    from scipy.stats import binomtest

    n01, n10 = int((a & ~b).sum()), int((~a & b).sum())
    p = binomtest(n01, n01 + n10, 0.5).pvalue if n01 + n10 else 1.0
    return n01, n10, float(p)


def write_calibration(backbone: TorchvisionCNN, gallery_paths: list[Path], n: int) -> Path:
    fp32 = create_backbone(backbone.spec.name, runtime="onnx")
    assert isinstance(fp32, TorchvisionCNN)
    fp32.setup()
    assert fp32.onnx_path is not None and fp32.weights_path is not None
    step = max(1, len(gallery_paths) // n)
    chosen = gallery_paths[::step][:n]
    t0 = time.perf_counter()
    record = ox.calibrate(fp32.onnx_path, fp32.preprocess(decode(chosen)))
    record = {
        "format": record.pop("format"),
        "backbone": backbone.spec.name,
        "weights_file": fp32.weights_path.name,
        "weights_sha256": ox.file_sha256(fp32.weights_path),
        "opset": ox.ONNX_OPSET,
        "calibration_images": {
            "count": len(chosen),
            "source": "shared/data/products/images (Kaggle 'Fashion Product Images (Small)' format)",
            "selection": f"crc32(id) % 5 != 0 (never a P@1 query), sorted by id, every {step}th",
            "first_ids": [p.stem for p in chosen[:5]],
        },
        "command": "python benchmarks/bench_onnx.py --write-calibration",
        "versions": ox._versions(),
        **record,
    }
    dst = ox.shipped_calibration_path(backbone.spec)
    dst.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"calibrated on {len(chosen)} gallery photos in {time.perf_counter() - t0:.0f}s -> {dst}")
    return dst


def dynamic_int8(fp32: TorchvisionCNN, tmpdir: Path) -> TorchvisionCNN:
    """The same backbone object, its session swapped for a ``quantize_dynamic`` model (of the same
    pre-processed graph as static int8, with the same nodes left float)."""
    import logging
    import warnings

    from onnxruntime.quantization import QuantType, quantize_dynamic

    assert fp32.onnx_path is not None
    out = tmpdir / "dynamic-int8.onnx"
    pre, _, float_nodes = ox._prepare_for_int8(fp32.onnx_path, tmpdir)
    logging.disable(logging.WARNING)  # onnxruntime warns on the root logger about the uint8 input
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(
                str(pre),
                str(out),
                per_channel=True,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=float_nodes,
            )
    finally:
        logging.disable(logging.NOTSET)
    dyn = create_backbone(fp32.spec.name, runtime="onnx")
    assert isinstance(dyn, TorchvisionCNN)
    dyn.setup()
    dyn._session = ox.make_session(out)
    return dyn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=Path, default=DEFAULT_PRODUCTS)
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE)
    parser.add_argument("--n-products", type=int, default=0, help="0: all products with a photo")
    parser.add_argument("--n-speed", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calibration-images", type=int, default=256)
    parser.add_argument("--write-calibration", action="store_true")
    parser.add_argument("--no-dynamic", action="store_true")
    args = parser.parse_args()

    import onnxruntime
    import torch

    ids, types, paths = load_products(args.products, args.n_products)
    query = np.array([is_query(i) for i in ids])
    labels = np.array(types)
    print(
        f"{len(ids)} products ({int(query.sum())} queries, {int((~query).sum())} gallery, "
        f"{len(set(types))} articleTypes); torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"onnxruntime {onnxruntime.__version__}; cache {load_settings().cache_dir}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )

    torch_bb = create_backbone(args.backbone)
    assert isinstance(torch_bb, TorchvisionCNN)
    torch_bb.setup()
    if args.write_calibration:
        write_calibration(
            torch_bb, [p for p, q in zip(paths, query, strict=True) if not q], args.calibration_images
        )

    runtimes: dict[str, TorchvisionCNN] = {"torch": torch_bb}
    for runtime in ("onnx", "onnx-int8"):
        bb = create_backbone(args.backbone, runtime=runtime)
        assert isinstance(bb, TorchvisionCNN)
        t0 = time.perf_counter()
        bb.setup()
        print(f"{runtime}: {bb.model_id}, setup {time.perf_counter() - t0:.1f}s, {bb.onnx_path}")
        runtimes[runtime] = bb
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_dynamic:
            runtimes["dynamic-int8"] = dynamic_int8(runtimes["onnx"], Path(tmp))
        sizes = {k: (b.onnx_path.stat().st_size if b.onnx_path else 0) for k, b in runtimes.items()}
        if "dynamic-int8" in runtimes:
            sizes["dynamic-int8"] = (Path(tmp) / "dynamic-int8.onnx").stat().st_size
        run(args, runtimes, sizes, paths, labels, query)


def run(
    args: argparse.Namespace,
    runtimes: dict[str, TorchvisionCNN],
    sizes: dict[str, int],
    paths: list[Path],
    labels: np.ndarray,
    query: np.ndarray,
) -> None:
    # -- speed, interleaved ------------------------------------------------------------------------
    speed_paths = [p for p, q in zip(paths, query, strict=True) if q][: args.n_speed]
    images = decode(speed_paths)
    crops = runtimes["torch"].preprocess(images)
    tasks: dict[tuple[str, str], Callable[[], Any]] = {}
    for name, bb in runtimes.items():
        tasks[name, "embed"] = lambda bb=bb: bb.embed(images)
        tasks[name, "network"] = lambda bb=bb: bb._forward_uint8(crops)
    for fn in tasks.values():
        fn()  # warm-up
    times: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    for _ in range(args.repeats):
        for key, fn in tasks.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    rate = {k: len(images) / float(np.median(v)) for k, v in times.items()}
    best = {k: len(images) / min(v) for k, v in times.items()}

    # -- accuracy ----------------------------------------------------------------------------------
    vectors, hits, seconds = {}, {}, {}
    for name, bb in runtimes.items():
        t0 = time.perf_counter()
        vectors[name] = embed_all(bb, paths)
        seconds[name] = time.perf_counter() - t0
        hits[name] = p_at_1(vectors[name], labels, query)
        print(
            f"embedded {len(paths)} products with {name} in {seconds[name]:.0f}s; P@1 {hits[name].mean():.4f}"
        )

    ref = vectors["torch"]
    print(
        f"\nspeed: {len(images)} product photos, median of {args.repeats} interleaved repeats "
        f"(best in brackets), forward batch {runtimes['torch'].forward_batch}"
    )
    head = (
        f"{'runtime':<13} {'model id':<36} {'MB':>5} {'embed img/s':>18} {'x torch':>7} "
        f"{'network img/s':>18} {'x torch':>7} {'P@1':>7} {'vs torch (+/-, p)':>20} "
        f"{'max|diff|':>9} {'mean cos':>9} {'min cos':>9}"
    )
    print(head)
    print("-" * len(head))
    for name, bb in runtimes.items():
        model_id = bb.model_id if name != "dynamic-int8" else "(benchmark only)"
        diff = np.abs(vectors[name] - ref).max()
        cos = (vectors[name] * ref).sum(axis=1)
        n01, n10, p = mcnemar_p(hits[name], hits["torch"])
        vs = "-" if name == "torch" else f"+{n01}/-{n10}, p={p:.2g}"
        size = f"{sizes[name] / 1e6:.1f}" if sizes[name] else "-"
        emb = f"{rate[name, 'embed']:.1f} ({best[name, 'embed']:.0f})"
        net = f"{rate[name, 'network']:.1f} ({best[name, 'network']:.0f})"
        print(
            f"{name:<13} {model_id:<36} {size:>5} {emb:>18} "
            f"{rate[name, 'embed'] / rate['torch', 'embed']:>6.2f}x {net:>18} "
            f"{rate[name, 'network'] / rate['torch', 'network']:>6.2f}x {hits[name].mean():>7.4f} {vs:>20} "
            f"{diff:>9.2e} {cos.mean():>9.6f} {cos.min():>9.6f}"
        )
    print(f"load average at the end (2 cores, shared): {os.getloadavg()[0]:.1f}")
    print(
        f"\nP@1: {int(query.sum())} queries vs {int((~query).sum())} gallery products, 1-NN by cosine, "
        "same articleType; +/-: queries this runtime gets right/wrong that torch does not"
    )


if __name__ == "__main__":
    main()
