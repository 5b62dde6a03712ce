"""What the server needs beyond `Settings`: batching, limits, security, which models to load.

`ServerConfig.from_env` reads ``FASHIONLENS_API_KEY`` and the ``FASHIONLENS_SERVE_*`` variables
(the server is an edge, like the CLI: it reads the environment once and passes the values down).

Batching (measured by ``benchmarks/bench_serve.py``): ``max_batch`` requests that need the backbone
are coalesced into one model call, the first one waiting at most ``max_wait_ms`` for company.
``max_batch = 0`` (the default) means 16 on a GPU and 1 on a CPU: on this project's 2-core CPU a
network pass over one image is the cheapest per image (a pass over 8 costs several times more per
image: its activations no longer fit the 2 MB L2 cache), so coalescing only adds waiting there.
``forward_batch`` is the images per network pass inside a batch.

``batch_workers`` and ``model_threads``: two model calls at once, each on one thread, by default. A
call on two intra-op threads waits for the slower of them, which on a machine shared with other
jobs is often descheduled; two single-threaded calls side by side do not wait for each other.
``Settings.num_threads``, when set, wins over ``model_threads`` and ``torch_threads``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from fashionlens.core.errors import InvalidInputError

MODELS = ("backbone", "attributes", "unet", "detector", "text")


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch: int = 0  # requests per backbone batch; 1: no batching; 0: 16 on a GPU, 1 on a CPU
    max_wait_ms: float = 10.0  # how long the first request of a batch waits for company
    forward_batch: int = 1  # images per network pass (a batch of 16 runs as 16 passes; see below)
    batch_workers: int = 2  # batches that run at once (threads taking from the one queue)
    model_threads: int = 1  # intra-op threads of the backbone's ONNX session; 0: the runtime decides
    max_upload_bytes: int = 20 * 1024 * 1024  # one image upload; larger: 413
    max_video_bytes: int = 512 * 1024 * 1024  # one video upload; larger: 413
    max_pixels: int = 40_000_000  # decoded image size; larger (a decompression bomb): 413
    request_timeout_s: float = 30.0  # a model call that takes longer answers 504
    api_key: str | None = None  # when set, writing routes require the X-API-Key header
    cors_origins: tuple[str, ...] = ()  # CORS is off unless origins are given
    models: tuple[str, ...] = MODELS  # what loads at start-up (maskrcnn too when a checkpoint is set)
    maskrcnn_checkpoint: Path | None = None
    jobs_dir: Path | None = None  # default: HOME/cache/server/jobs
    max_jobs_kept: int = 20
    load_in_background: bool = True  # /health answers at once; /ready says when models are up
    torch_threads: int = 1  # torch intra-op threads (requests run in parallel instead); 0: torch's default

    def __post_init__(self) -> None:
        if self.max_batch < 0:
            raise InvalidInputError(f"max_batch must be >= 0 (0: automatic); got {self.max_batch}")
        if not 0 <= self.max_wait_ms <= 1000:
            raise InvalidInputError(f"max_wait_ms must be in [0, 1000]; got {self.max_wait_ms}")
        if self.batch_workers < 1:
            raise InvalidInputError(f"batch_workers must be >= 1; got {self.batch_workers}")
        if self.model_threads < 0:
            raise InvalidInputError(f"model_threads must be >= 0; got {self.model_threads}")
        if self.forward_batch < 1:
            raise InvalidInputError(f"forward_batch must be >= 1; got {self.forward_batch}")
        if self.torch_threads < 0:
            raise InvalidInputError(f"torch_threads must be >= 0; got {self.torch_threads}")
        for name in ("max_upload_bytes", "max_video_bytes", "max_pixels", "max_jobs_kept"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be >= 1; got {getattr(self, name)}")
        if self.request_timeout_s <= 0:
            raise InvalidInputError(f"request_timeout_s must be > 0; got {self.request_timeout_s}")
        unknown = set(self.models) - set(MODELS)
        if unknown:
            raise InvalidInputError(f"unknown models {sorted(unknown)}; known: {', '.join(MODELS)}")
        if "attributes" in self.models and "backbone" not in self.models:
            raise InvalidInputError("the attributes model needs the backbone: add 'backbone' to models")
        if self.api_key is not None and not self.api_key.strip():
            raise InvalidInputError("api_key is empty; unset FASHIONLENS_API_KEY to turn keys off")

    def batch_size(self, device: str) -> int:
        """``max_batch``, with 0 resolved for ``device`` (16 on a GPU, 1 on a CPU)."""
        if self.max_batch:
            return self.max_batch
        return 1 if device == "cpu" else 16

    def with_overrides(self, **values: Any) -> ServerConfig:
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ServerConfig:
        """Defaults < ``FASHIONLENS_API_KEY`` and ``FASHIONLENS_SERVE_<FIELD>`` < ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if env.get("FASHIONLENS_API_KEY"):
            values["api_key"] = env["FASHIONLENS_API_KEY"]
        kinds = {f.name: f.type for f in fields(cls)}
        for name in kinds:
            raw = env.get(f"FASHIONLENS_SERVE_{name.upper()}")
            if raw in (None, "") or name == "api_key":
                continue
            values[name] = _coerce(name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _coerce(name: str, raw: str) -> Any:
    try:
        if name in (
            "port",
            "max_batch",
            "max_upload_bytes",
            "max_video_bytes",
            "max_pixels",
            "max_jobs_kept",
        ):
            return int(raw)
        if name in ("max_wait_ms", "request_timeout_s"):
            return float(raw)
        if name in ("cors_origins", "models"):
            return tuple(v.strip() for v in raw.split(",") if v.strip())
        if name in ("maskrcnn_checkpoint", "jobs_dir"):
            return Path(raw)
        if name == "load_in_background":
            if raw.strip().lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(raw)
            return raw.strip().lower() in {"1", "true", "yes"}
        return raw
    except ValueError as exc:
        raise InvalidInputError(f"FASHIONLENS_SERVE_{name.upper()}: cannot use {raw!r}") from exc
