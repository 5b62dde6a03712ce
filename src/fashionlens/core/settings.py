"""One settings object. Precedence: defaults < config file < ``FASHIONLENS_*`` env < flags.

The config file is TOML: ``$FASHIONLENS_CONFIG`` if set, else ``$FASHIONLENS_HOME/config.toml``.
Invalid values fail loudly with the key, the value and what was expected.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fashionlens.core.errors import InvalidInputError

DEFAULT_BACKBONE = "mobilenet_v2.imagenet"
RUNTIMES = ("torch", "onnx", "onnx-int8")  # what a backbone can run on
RUNTIME_CHOICES = ("auto", *RUNTIMES)  # what a user can ask for; auto: `fashionlens.models.factory`
ENGINES = ("local", "ray")  # who runs batch jobs: `fashionlens.engines`


def _default_home() -> Path:
    return Path(os.environ.get("FASHIONLENS_HOME") or Path.home() / ".fashionlens")


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=_default_home)
    backbone: str = DEFAULT_BACKBONE
    batch_size: int = 32
    device: str = "cpu"
    weights_dir: Path | None = None
    num_threads: int = 0  # 0: let torch decide
    skip_failures: bool = True
    runtime: str = "auto"  # auto | torch | onnx | onnx-int8: how CNN backbones run inference
    cache: Path | None = None  # derived files (ONNX exports, colour features); default HOME/cache
    max_image_pixels: int = 64_000_000  # images with more pixels are refused before decoding
    max_image_bytes: int = 256 * 1024 * 1024  # files larger than this are refused unread
    engine: str = "local"  # local | ray: who runs batch jobs (`fashionlens.engines`)
    ray_address: str | None = None  # a Ray cluster (None: RAY_ADDRESS, else a local Ray)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1; got {self.batch_size}")
        if self.num_threads < 0:
            raise InvalidInputError(f"num_threads must be >= 0; got {self.num_threads}")
        if self.max_image_pixels < 1 or self.max_image_bytes < 1:
            raise InvalidInputError(
                f"max_image_pixels and max_image_bytes must be >= 1; got "
                f"{self.max_image_pixels}, {self.max_image_bytes}"
            )
        if self.runtime not in RUNTIME_CHOICES:
            raise InvalidInputError(
                f"runtime must be one of {', '.join(RUNTIME_CHOICES)}; got {self.runtime!r}"
            )
        if self.engine not in ENGINES:
            raise InvalidInputError(f"engine must be one of {', '.join(ENGINES)}; got {self.engine!r}")
        if self.home.exists() and not self.home.is_dir():
            raise InvalidInputError(f"home {self.home}: exists and is not a folder")
        if self.weights_dir is not None and not self.weights_dir.is_dir():
            raise InvalidInputError(f"weights_dir {self.weights_dir}: no such folder")
        if not self.device or not (
            self.device == "cpu" or self.device.startswith("cuda") or self.device == "mps"
        ):
            raise InvalidInputError(f"device must be cpu, cuda[:N] or mps; got {self.device!r}")

    @property
    def db_path(self) -> Path:
        return self.home / "db"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def cache_dir(self) -> Path:
        return self.cache if self.cache is not None else self.home / "cache"

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(key: str, value: Any) -> Any:
    if key not in _FIELDS:
        raise InvalidInputError(f"unknown setting {key!r}; known: {', '.join(sorted(_FIELDS))}")
    kind = {
        "home": Path,
        "weights_dir": Path,
        "cache": Path,
        "batch_size": int,
        "num_threads": int,
        "max_image_pixels": int,
        "max_image_bytes": int,
        "skip_failures": bool,
        "backbone": str,
        "runtime": str,
        "device": str,
        "engine": str,
        "ray_address": str,
    }[key]
    if value is None:
        return None
    try:
        if kind is bool and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(value)
            return lowered in {"1", "true", "yes"}
        if kind is int and (isinstance(value, bool) or (isinstance(value, float) and not value.is_integer())):
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"setting {key}: expected {kind.__name__}; got {value!r}") from exc


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build `Settings` from defaults, the config file, the environment and explicit overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    home = Path(env["FASHIONLENS_HOME"]) if env.get("FASHIONLENS_HOME") else None
    if overrides and overrides.get("home"):
        home = Path(overrides["home"])
    path = config_file or (Path(env["FASHIONLENS_CONFIG"]) if env.get("FASHIONLENS_CONFIG") else None)
    if path is None:
        path = (home or _default_home()) / "config.toml"
        explicit = False
    else:
        explicit = True
    if path.exists() and not path.is_file():
        raise InvalidInputError(f"{path}: the config file is not a file")
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"{path}: not valid TOML ({exc})") from exc
        for key, value in data.items():
            values[key] = _coerce(key, value)
    elif explicit:
        raise InvalidInputError(f"{path}: config file not found")
    for key in _FIELDS:
        env_value = env.get(f"FASHIONLENS_{key.upper()}")
        if env_value not in (None, ""):
            values[key] = _coerce(key, env_value)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(key, value)
    return Settings(**values)
