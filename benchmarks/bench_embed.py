"""Embedding throughput of a torchvision backbone: plain eager baseline vs the library's batched path.

    python benchmarks/bench_embed.py --images /work/shared/data/clothing/validation --n 256

All paths embed the same N real images, already decoded in memory (JPEG decoding is not timed):

(a) baseline: one image at a time, ``torch.no_grad``, default threads, torchvision
    ``Resize + CenterCrop + ToTensor + Normalize`` per image, the unmodified torchvision model;
(b) library: ``Backbone.embed`` (chunks of ``--batch-size``, inference_mode, channels_last,
    conv+BN folded, small forward micro-batches, next chunk preprocessed in a thread);
(c) ONNX Runtime fp32 (the library's preprocessing + the network exported to ONNX), unless --no-onnx.

Each path runs ``--repeats`` times after a warm-up; the best run counts (the machine is shared).
It also checks that the paths produce the same embeddings (max abs diff, min cosine).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from fashionlens.core.settings import DEFAULT_BACKBONE
from fashionlens.models.backbones.torchvision_cnn import TorchvisionCNN, _split
from fashionlens.models.registry import create_backbone

DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "clothing" / "validation"


def load_images(root: Path, n: int) -> list[Image.Image]:
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    if not paths:
        raise SystemExit(f"no images under {root}")
    images = []
    for i in range(n):
        with Image.open(paths[i % len(paths)]) as im:
            images.append(im.convert("RGB"))
    return images


def l2n(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def timed(fn: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    best, out = float("inf"), np.empty(0)
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def compare(a: np.ndarray, b: np.ndarray) -> str:
    return f"max |diff| {np.abs(a - b).max():.2e}, min cosine {float((a * b).sum(axis=1).min()):.7f}"


def make_baseline(backbone: TorchvisionCNN) -> Callable[[Sequence[Image.Image]], np.ndarray]:
    import torch
    import torchvision
    from torchvision import transforms as T

    spec = backbone.spec
    model = getattr(torchvision.models, spec.arch)()
    model.load_state_dict(torch.load(backbone.weights_path, map_location="cpu", weights_only=True))
    features, _ = _split(spec.arch, model.eval())
    tf = T.Compose(
        [
            T.Resize(spec.resize_size),
            T.CenterCrop(spec.input_size),
            T.ToTensor(),
            T.Normalize(spec.mean, spec.std),
        ]
    )

    def run(images: Sequence[Image.Image]) -> np.ndarray:
        outs = []
        with torch.no_grad():
            for im in images:
                outs.append(features(tf(im).unsqueeze(0)).numpy())
        return l2n(np.concatenate(outs))

    return run


def make_onnx(
    backbone: TorchvisionCNN, tmpdir: Path, batch: int
) -> Callable[[Sequence[Image.Image]], np.ndarray]:
    import warnings

    import onnxruntime as ort
    import torch

    path = tmpdir / f"{backbone.spec.name}.onnx"
    dummy = torch.zeros(2, 3, backbone.spec.input_size, backbone.spec.input_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            backbone._features, dummy, str(path), input_names=["x"], output_names=["f"],
            dynamic_axes={"x": {0: "n"}, "f": {0: "n"}}, dynamo=False, opset_version=17,
        )  # fmt: skip
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    scale = (1.0 / (255.0 * np.array(backbone.spec.std, np.float32))).reshape(1, 3, 1, 1)
    shift = (-np.array(backbone.spec.mean, np.float32) / np.array(backbone.spec.std, np.float32)).reshape(
        1, 3, 1, 1
    )

    def run(images: Sequence[Image.Image]) -> np.ndarray:
        outs = []
        for i in range(0, len(images), batch):
            u8 = backbone.preprocess(images[i : i + batch])
            x = np.ascontiguousarray(u8.transpose(0, 3, 1, 2), dtype=np.float32) * scale + shift
            outs.append(session.run(None, {"x": x})[0])
        return l2n(np.concatenate(outs))

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--onnx-batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-onnx", action="store_true")
    args = parser.parse_args()

    import torch

    images = load_images(args.images, args.n)
    backbone = create_backbone(args.backbone, batch_size=args.batch_size)
    if not isinstance(backbone, TorchvisionCNN):
        raise SystemExit(f"{args.backbone}: this benchmark covers the torchvision backbones")
    backbone.setup()
    print(f"backbone {backbone.model_id} ({backbone.weights_path})")
    threads = torch.get_num_threads()
    print(f"{len(images)} images from {args.images}; torch {torch.__version__}, {threads} threads")

    paths: dict[str, Callable[[Sequence[Image.Image]], np.ndarray]] = {
        "(a) eager baseline, 1 image at a time, no_grad": make_baseline(backbone),
        f"(b) library Backbone.embed, batch {args.batch_size}": backbone.embed,
    }
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_onnx:
            paths[f"(c) ONNX Runtime fp32, batch {args.onnx_batch}"] = make_onnx(
                backbone, Path(tmp), args.onnx_batch
            )
        results: dict[str, tuple[float, np.ndarray]] = {}
        for label, fn in paths.items():
            fn(images[:16])  # warm-up (allocator, oneDNN primitives)
            results[label] = timed(lambda fn=fn: fn(images), args.repeats)

    print(f"\n{'path':<52} {'images/s':>9} {'ms/image':>9}")
    rates = {}
    for label, (seconds, _) in results.items():
        rates[label] = len(images) / seconds
        print(f"{label:<52} {rates[label]:>9.1f} {1000 * seconds / len(images):>9.2f}")
    (a_label, (_, a_emb)), (b_label, (_, b_emb)) = list(results.items())[:2]
    print(f"\nspeed-up (b)/(a): {rates[b_label] / rates[a_label]:.2f}x")
    print(f"(b) vs (a) embeddings: {compare(b_emb, a_emb)}")
    for label, (_, emb) in list(results.items())[2:]:
        speedup = rates[label] / rates[a_label]
        print(f"{label[:3]}/(a): {speedup:.2f}x; {label[:3]} vs (b) embeddings: {compare(emb, b_emb)}")


if __name__ == "__main__":
    main()
