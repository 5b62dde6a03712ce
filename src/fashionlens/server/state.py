"""The server's models and shared objects: loaded once at start-up, each checked by a real probe.

`ServerState.load_all` builds every configured model through `fashionlens.models.factory` and
makes it answer one real call (an embedding, an attribute prediction, a segmentation, a text
vector) before it counts as ready; ``/ready`` reports the models still loading or failed. The
backbone's attribute predictor runs behind the `DynamicBatcher`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.settings import Settings
from fashionlens.server.batching import DynamicBatcher
from fashionlens.server.config import ServerConfig
from fashionlens.server.errors import ApiError
from fashionlens.server.jobs import JobRunner
from fashionlens.server.limits import within
from fashionlens.server.metrics import Metrics

logger = logging.getLogger(__name__)

SEARCHER_TTL_S = 60.0


@dataclass
class ModelSlot:
    name: str
    state: str = "loading"  # loading | ready | failed | absent (not installed; not needed for ready)
    model_id: str = ""
    error: str = ""
    seconds: float = 0.0
    value: Any = None


def probe_image(width: int = 96, height: int = 128) -> Any:
    """A deterministic RGB PIL image for the start-up probes."""
    from PIL import Image

    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


class ServerState:
    def __init__(self, settings: Settings, config: ServerConfig) -> None:
        self.settings = settings
        self.config = config
        self.metrics = Metrics()
        wanted = list(config.models) + (["maskrcnn"] if config.maskrcnn_checkpoint else [])
        self.slots: dict[str, ModelSlot] = {name: ModelSlot(name) for name in wanted}
        self.batcher: DynamicBatcher[Any, Any] | None = None
        self.jobs = JobRunner(
            config.jobs_dir or settings.cache_dir / "server" / "jobs", max_kept=config.max_jobs_kept
        )
        self._catalog: Any = None
        self._searchers: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._loader: threading.Thread | None = None
        self.loaded = threading.Event()
        self._users = 0

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Load the models and start the job worker (once: later calls only count users)."""
        with self._lock:
            self._users += 1  # one app can be started by several lifespans (test clients)
            if self._users > 1:
                return
        self.jobs.start()
        if self.config.load_in_background:
            self._loader = threading.Thread(target=self.load_all, name="fashionlens-load", daemon=True)
            self._loader.start()
        else:
            self.load_all()

    def stop(self) -> None:
        """Stop the batcher and the job worker when the last user of the app stops."""
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users:
                return
        if self._loader is not None:
            self._loader.join(timeout=120)
        if self.batcher is not None:
            self.batcher.stop()
        self.jobs.stop()

    def load_all(self) -> None:
        if self.config.torch_threads and not self.settings.num_threads:
            import torch

            # small per-request models (the attribute MLP, the U-Net) run in parallel across
            # requests; several intra-op threads each on a busy 2-core box only contend
            torch.set_num_threads(self.config.torch_threads)
        try:
            for name in list(self.slots):
                self._load(name)
        finally:
            self.loaded.set()

    def _load(self, name: str) -> None:
        slot = self.slots[name]
        started = time.perf_counter()
        try:
            slot.value, slot.model_id = getattr(self, f"_load_{name}")()
            slot.state = "absent" if slot.value is None else "ready"
        except Exception as exc:  # reported by /ready, never fatal
            logger.warning("model %s failed to load: %s", name, exc)
            slot.state, slot.error = "failed", f"{type(exc).__name__}: {exc}"
        slot.seconds = time.perf_counter() - started
        logger.info("model %s: %s in %.1fs", name, slot.state, slot.seconds)

    def _load_backbone(self) -> tuple[Any, str]:
        from fashionlens.models import factory

        # the space the catalogue already holds wins (runtime = auto), so uploads, attributes and
        # search share one embedding space; an empty catalogue gets the fastest runtime
        space = factory.stored_space(self.settings, self.catalog.embedding_models())
        from fashionlens.models.registry import backbone_runtimes, parse_model_id

        kwargs = {}
        threads = self.settings.num_threads or self.config.model_threads
        if threads and "onnx" in backbone_runtimes(parse_model_id(space)[0]):  # CNNs take num_threads
            kwargs["num_threads"] = threads
        backbone = factory.backbone_for_model_id(self.settings, space, **kwargs)
        if hasattr(backbone, "forward_batch"):  # CNN backbones: images per network pass
            backbone.forward_batch = self.config.forward_batch
        backbone.setup()
        backbone.embed([probe_image()])
        return backbone, str(backbone.model_id)

    def _load_attributes(self) -> tuple[Any, str]:
        from fashionlens.models import factory
        from fashionlens.models.heads.attributes import AttributeClassifier
        from fashionlens.services.describe import AttributePredictor

        backbone = self.model("backbone")
        # the best classifier for the search space: a fine-tuned space's (its own backbone, a
        # second pass per image) unless you trained one for the search backbone itself
        path, space = factory.attribute_classifier_space(
            self.settings, backbone.model_id, allow_finetuned=True
        )
        classifier = AttributeClassifier.load(path)
        from fashionlens.models.registry import parse_model_id

        own_space = parse_model_id(backbone.model_id)[0] == parse_model_id(space)[0]
        attribute_backbone = None
        if not own_space:
            attribute_backbone = factory.backbone_for_model_id(self.settings, space)
            if hasattr(attribute_backbone, "forward_batch"):
                attribute_backbone.forward_batch = self.config.forward_batch
        predictor = AttributePredictor(
            backbone, classifier, chunk=self.config.forward_batch, attribute_backbone=attribute_backbone
        )
        predictor.predict([probe_image()])
        self.batcher = DynamicBatcher(
            predictor.predict,
            max_batch=self.config.batch_size(self.settings.device),
            max_wait_s=self.config.max_wait_ms / 1000.0,
            name="attributes",
            on_batch=self.metrics.observe_batch,
            workers=self.config.batch_workers,
        ).start()
        return predictor, predictor.classifier_id

    def _load_unet(self) -> tuple[Any, str]:
        from fashionlens.ingest.images import to_rgb_array
        from fashionlens.models import factory

        unet = factory.unet(self.settings)
        unet.setup()
        unet.predict([to_rgb_array(probe_image())])
        return unet, str(unet.model_id)

    def _load_detector(self) -> tuple[Any, str]:
        from fashionlens.ingest.images import to_rgb_array
        from fashionlens.models import factory

        detector = factory.person_detector(self.settings)
        if detector is None:
            return None, ""
        if hasattr(detector, "setup"):
            detector.setup()
        detector.detect(to_rgb_array(probe_image()))
        return detector, str(getattr(detector, "model_id", type(detector).__name__))

    def _load_text(self) -> tuple[Any, str]:
        from fashionlens.models import factory
        from fashionlens.services.search import TEXT_BACKBONE

        text = factory.backbone(self.settings, TEXT_BACKBONE)
        text.setup()
        text.embed_text(["a photo of a dress"])
        text.embed([probe_image()])
        return text, str(text.model_id)

    def _load_maskrcnn(self) -> tuple[Any, str]:
        from fashionlens.ingest.images import to_rgb_array
        from fashionlens.models import factory

        model = factory.maskrcnn(self.settings, Path(str(self.config.maskrcnn_checkpoint)))
        model.setup()
        model.predict([to_rgb_array(probe_image())])
        return model, str(model.model_id)

    # -- access -------------------------------------------------------------------------------
    def readiness(self) -> tuple[bool, list[str], dict[str, str]]:
        loading = [s.name for s in self.slots.values() if s.state == "loading"]
        failed = {s.name: s.error for s in self.slots.values() if s.state == "failed"}
        return not loading and not failed, loading, failed

    def model(self, name: str) -> Any:
        """A loaded model, or 503 saying it is still loading / failed / not configured."""
        slot = self.slots.get(name)
        if slot is None:
            raise ApiError(503, f"model {name} is not configured on this server")
        if slot.state == "loading":
            raise ApiError(503, f"model {name} is still loading; see /ready", {"Retry-After": "5"})
        if slot.state == "failed":
            raise ApiError(503, f"model {name} failed to load: {slot.error}")
        if slot.state == "absent" or slot.value is None:
            raise ApiError(503, f"model {name} is not installed on this server")
        return slot.value

    def optional(self, name: str) -> Any:
        slot = self.slots.get(name)
        return slot.value if slot is not None and slot.state == "ready" else None

    def _batcher(self) -> DynamicBatcher[Any, Any]:
        self.model("attributes")
        if self.batcher is None:
            raise ApiError(503, "model attributes is still loading; see /ready")
        if not self.batcher.running:
            raise ApiError(503, "the server is shutting down")
        return self.batcher

    async def attributes(self, image: Any) -> Any:
        """`ImageAttributes` of one PIL image through the dynamic batcher (504 past the timeout)."""
        future = self._batcher().submit(image)
        return await within(
            asyncio.wrap_future(future), self.config.request_timeout_s, "attribute prediction"
        )

    def attributes_blocking(self, image: Any) -> Any:
        """The same from a worker thread (the describe service calls this)."""
        return self._batcher()(image, timeout=self.config.request_timeout_s)

    @property
    def catalog(self) -> Any:
        if self._catalog is None:
            from fashionlens.store.catalog import Catalog

            self._catalog = Catalog(self.settings.db_path)
        return self._catalog

    def searcher(self, model_id: str) -> Any:
        """A `Searcher` of one embedding space, re-made every `SEARCHER_TTL_S` (index changes)."""
        from fashionlens.services.search import Searcher

        now = time.monotonic()
        with self._lock:
            cached = self._searchers.get(model_id)
            if cached is not None and now - cached[0] < SEARCHER_TTL_S:
                return cached[1]
            searcher = Searcher(self.catalog, self.settings, model_id)
            self._searchers[model_id] = (now, searcher)
            return searcher

    def image_model_id(self) -> str:
        slot = self.slots.get("backbone")
        if slot is not None and slot.model_id:
            return slot.model_id
        from fashionlens.models import factory

        return factory.backbone_model_id(self.settings)

    def text_model_id(self) -> str:
        from fashionlens.models.registry import resolve_model_id
        from fashionlens.services.search import TEXT_BACKBONE

        return resolve_model_id(TEXT_BACKBONE)

    def describer(self, *, attributes: bool = True, segment: bool = True, instances: bool = False) -> Any:
        """A `Describer` over the loaded models (503 for one still loading)."""
        from fashionlens.services.describe import Describer

        if attributes:
            self.model("attributes")
        return Describer(
            self.attributes_blocking if attributes else None,
            self.model("unet") if segment else None,
            detector=self.optional("detector"),
            instances=self.model("maskrcnn") if instances else None,
        )
