"""The offline default backbone with its REAL shipped weights, on real garment photos.

Measured on this data (15 photos per class where available, 146 photos, 10 classes):
leave-one-out 1-NN class accuracy 0.562 (chance ~0.10); all 341 photos: 0.654.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionlens.models.backbones.torchvision_cnn import TorchvisionCNN
from fashionlens.models.registry import create_backbone

PER_CLASS = 15
MIN_1NN_ACCURACY = 0.46  # measured 0.562; threshold = measured - 10 points


@pytest.fixture(scope="module")
def backbone() -> TorchvisionCNN:
    model = create_backbone("mobilenet_v2.imagenet")
    assert isinstance(model, TorchvisionCNN)
    model.setup()
    return model


@pytest.fixture(scope="module")
def garments(shared_data: Path) -> tuple[list[Image.Image], np.ndarray]:
    root = shared_data / "clothing" / "validation"
    images, labels = [], []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(class_dir.glob("*.jpg"))[:PER_CLASS]:
            with Image.open(path) as im:
                images.append(im.convert("RGB"))
            labels.append(class_dir.name)
    assert len(set(labels)) == 10
    return images, np.array(labels)


def test_uses_real_shipped_weights(backbone: TorchvisionCNN) -> None:
    assert backbone.model_id == "mobilenet_v2.imagenet"
    assert backbone.weights_path is not None
    assert backbone.weights_path.name == "mobilenet_v2-b0353104.pth"


def test_nearest_neighbour_recovers_garment_class(
    backbone: TorchvisionCNN, garments: tuple[list[Image.Image], np.ndarray]
) -> None:
    images, labels = garments
    emb = backbone.embed(images)
    assert emb.shape == (len(images), 1280) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    sims = emb @ emb.T
    np.fill_diagonal(sims, -np.inf)
    accuracy = float((labels[sims.argmax(axis=1)] == labels).mean())
    majority = max(np.mean(labels == c) for c in set(labels))
    assert accuracy >= MIN_1NN_ACCURACY, f"1-NN accuracy {accuracy:.3f} (majority class {majority:.3f})"


def test_matches_plain_torchvision_pipeline(
    backbone: TorchvisionCNN, garments: tuple[list[Image.Image], np.ndarray]
) -> None:
    """Folded BN, channels_last, micro-batches and our resize/crop change nothing but rounding."""
    import torch
    import torchvision
    from torchvision import transforms as T

    images = garments[0][:4]
    reference_model = torchvision.models.mobilenet_v2()
    reference_model.load_state_dict(torch.load(backbone.weights_path, weights_only=True))
    reference_model.eval()
    tf = T.Compose(
        [T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(backbone.spec.mean, backbone.spec.std)]
    )
    with torch.no_grad():
        x = torch.stack([tf(im) for im in images])
        ref = torch.nn.functional.adaptive_avg_pool2d(reference_model.features(x), 1).flatten(1).numpy()
        ref_logits = reference_model(x).numpy()
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(backbone.embed(images), ref, atol=1e-5)
    np.testing.assert_allclose(backbone.logits(images), ref_logits, atol=1e-3, rtol=1e-4)


def test_batching_does_not_change_embeddings(
    backbone: TorchvisionCNN, garments: tuple[list[Image.Image], np.ndarray]
) -> None:
    images = garments[0][:11]
    together = backbone.embed(images)
    one_by_one = np.concatenate([backbone.embed([im]) for im in images])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    chunked = create_backbone("mobilenet_v2.imagenet", batch_size=4, forward_batch=3).embed(images)
    np.testing.assert_allclose(together, chunked, atol=1e-5)


def test_imagenet_head_recognises_footwear(backbone: TorchvisionCNN, shared_data: Path) -> None:
    from torchvision.models import MobileNet_V2_Weights

    categories = MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    footwear = {"clog", "Loafer", "cowboy boot", "running shoe", "sandal"}
    paths = sorted((shared_data / "clothing" / "validation" / "shoes").glob("*.jpg"))[:10]
    logits = backbone.logits([Image.open(p) for p in paths])
    top1 = [categories[i] for i in logits.argmax(axis=1)]
    hits = sum(name in footwear for name in top1)
    assert hits >= 8, f"top-1 ImageNet classes of shoe photos: {top1}"  # measured 10/10


def _real_photo(shared_data: Path) -> Image.Image:
    path = sorted((shared_data / "clothing" / "validation" / "dress").glob("*.jpg"))[0]
    with Image.open(path) as im:
        return im.convert("RGB")


@pytest.mark.parametrize(
    "convert",
    [
        lambda im: im.convert("L"),
        lambda im: im.convert("RGBA"),
        lambda im: im.convert("CMYK"),
        lambda im: im.convert("P"),
        lambda im: im.resize((8, 8)),
        lambda im: im.resize((2000, 3)),
        lambda im: np.asarray(im),
    ],
    ids=["grayscale", "rgba", "cmyk", "palette", "tiny-8x8", "strip-2000x3", "numpy"],
)
def test_any_mode_and_size_embeds(backbone: TorchvisionCNN, shared_data: Path, convert) -> None:  # type: ignore[no-untyped-def]
    photo = _real_photo(shared_data)
    emb = backbone.embed([convert(photo)])
    assert emb.shape == (1, 1280)
    assert np.isfinite(emb).all()
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)


def test_mode_conversions_keep_the_garment(backbone: TorchvisionCNN, shared_data: Path) -> None:
    photo = _real_photo(shared_data)
    rgb, rgba, cmyk = backbone.embed([photo, photo.convert("RGBA"), photo.convert("CMYK")])
    assert float(rgb @ rgba) > 0.999  # opaque alpha changes nothing
    assert float(rgb @ cmyk) > 0.9
