"""CLIP backbones via open_clip (``pip install 'fashionlens[clip]'``): image and text in one space.

No pip package ships CLIP weights, so ``clip-vit-b32.openai`` needs its file: a local file
(``weights=PATH``, the weights dir, ``$FASHIONLENS_HOME/models``), the Hugging Face cache
(``timm/vit_base_patch32_clip_224.openai``), or a download when online. Offline and absent it
raises `WeightsNotFoundError`. The BPE tokenizer ships inside open_clip, so ``embed_text`` works
offline. ``weights=None`` builds the architecture with random weights (smoke tests only).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, require
from fashionlens.models.backbones.preprocess import preprocess_uint8
from fashionlens.models.registry import Backbone, BackboneSpec, register_backbone
from fashionlens.models.weights import resolve_weights

logger = logging.getLogger(__name__)

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
_HF = "https://huggingface.co/{repo}/resolve/main/{file}"

SPECS = (
    BackboneSpec(
        name="clip-vit-b32.openai",
        dim=512,
        weights_file="clip-vit-b32-openai.bin",
        weights_url=_HF.format(
            repo="timm/vit_base_patch32_clip_224.openai", file="open_clip_pytorch_model.bin"
        ),
        input_size=224,
        resize_size=224,
        mean=OPENAI_MEAN,
        std=OPENAI_STD,
        has_text=True,
        description="OpenAI CLIP ViT-B/32 via open_clip; 512-d image and text embeddings",
        extra={
            "open_clip_model": "ViT-B-32",
            "quick_gelu": True,
            "interpolation": "bicubic",
            "hf_repo": "timm/vit_base_patch32_clip_224.openai",
            "hf_filenames": ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"),
        },
    ),
)


class OpenClipBackbone(Backbone):
    """An open_clip model: `embed` for images, `embed_text` for text, both L2-normalised."""

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
    ) -> None:
        super().__init__(
            spec, weights=weights, device=device, weights_dir=weights_dir, models_dir=models_dir,
            cache_dir=cache_dir,
        )  # fmt: skip
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1; got {batch_size}")
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.weights_path: Path | None = None
        self._model: Any = None
        self._tokenizer: Any = None

    def _setup(self) -> None:
        torch = require("torch")
        open_clip = require("open_clip", extra="clip")
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        arch = self.spec.extra["open_clip_model"]
        pretrained = None
        if self.weights is not None:
            self.weights_path = resolve_weights(
                self.spec, self.weights, self.weights_dir, models_dir=self.models_dir
            )
            pretrained = str(self.weights_path)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = open_clip.create_model(
                arch,
                pretrained=None,
                device=self.device,
                force_quick_gelu=bool(self.spec.extra.get("quick_gelu")),
                pretrained_image=False,
                pretrained_text=False,
            )
        if pretrained is not None:  # loaded here, as tensors only: a crafted file runs nothing
            try:
                state: Any
                if pretrained.endswith(".safetensors"):
                    from safetensors.torch import load_file

                    state = load_file(pretrained, device="cpu")
                else:
                    state = torch.load(pretrained, map_location="cpu", weights_only=True)
                if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
                    state = state["state_dict"]
                state = {k.removeprefix("module."): v for k, v in state.items()}
                model.load_state_dict(state)
            except Exception as exc:  # torch.load / load_state_dict raise many types
                raise InvalidInputError(
                    f"{pretrained}: not an open_clip {arch} state dict ({str(exc).splitlines()[0]})"
                ) from exc
            model = model.to(self.device)
        self._model = model.eval()
        self._tokenizer = open_clip.get_tokenizer(arch)
        spec = self.spec
        self._scale = (1.0 / (255.0 * torch.tensor(spec.std))).view(1, 3, 1, 1).to(self.device)
        self._shift = (-torch.tensor(spec.mean) / torch.tensor(spec.std)).view(1, 3, 1, 1).to(self.device)

    def preprocess(self, images: Sequence[Any]) -> np.ndarray:
        spec = self.spec
        return preprocess_uint8(
            images, spec.resize_size, spec.input_size, spec.extra.get("interpolation", "bicubic")
        )

    def _embed(self, images: Sequence[Any]) -> np.ndarray:
        import torch

        outs = []
        for i in range(0, len(images), self.batch_size):
            batch = self.preprocess(images[i : i + self.batch_size])
            x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).contiguous()
            x = x.float().mul_(self._scale).add_(self._shift)
            with torch.inference_mode():
                outs.append(self._model.encode_image(x).float().cpu().numpy())
        return np.concatenate(outs, axis=0)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> L2-normalised ``float32 (N, D)`` in the image embedding space."""
        import torch

        if isinstance(texts, str):
            texts = [texts]
        self.setup()
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        outs = []
        for i in range(0, len(texts), self.batch_size):
            tokens = self._tokenizer(list(texts[i : i + self.batch_size])).to(self.device)
            with torch.inference_mode():
                outs.append(self._model.encode_text(tokens).float().cpu().numpy())
        out = np.concatenate(outs, axis=0)
        return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)


for _spec in SPECS:
    register_backbone(_spec)(OpenClipBackbone)
