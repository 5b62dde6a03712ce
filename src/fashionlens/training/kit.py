"""What every training loop shares: the schedule, atomic checkpoints, the device, torch threads.

- `warmup_cosine`: linear warm-up then cosine decay to 0, as a ``LambdaLR`` factor of the step.
- `save_checkpoint` / `load_checkpoint`: a checkpoint is a dict of tensors and plain values
  (numbers, strings, lists, dicts) written atomically (temp file + rename). It records the
  training config it was made with; loading it checks that config against the caller's (keys in
  ``must_match``) and always uses ``torch.load(weights_only=True)``, so a crafted file can't run
  code.
- `resolve_device`: the device from Settings, checked: ``cuda`` on a machine without a GPU is a
  clear error, not an internal one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from fashionlens.core.errors import InvalidInputError, require

CHECKPOINT_FORMAT = "fashionlens-checkpoint/1"


def warmup_cosine(
    warmup_steps: int, total_steps: int, floor: float = 0.0, warmup_start: float | None = None
) -> Callable[[int], float]:
    """LR factor for step ``step``: ``(step + 1) / warmup`` during warm-up (or linear from
    ``warmup_start`` when given), then cosine to ``floor`` at ``total_steps``."""
    if warmup_steps < 0 or total_steps < 1:
        raise InvalidInputError(
            f"schedule: need warmup >= 0 and total >= 1; got {warmup_steps}, {total_steps}"
        )

    def factor(step: int) -> float:
        if step < warmup_steps:
            if warmup_start is not None:
                return warmup_start + (1.0 - warmup_start) * step / warmup_steps
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def config_dict(config: Any) -> dict[str, Any]:
    """A dataclass (or mapping) as plain values: paths become strings, tuples lists."""
    is_instance = dataclasses.is_dataclass(config) and not isinstance(config, type)
    raw = dataclasses.asdict(config) if is_instance else dict(config)

    def plain(v: Any) -> Any:
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in raw.items()}


def save_checkpoint(path: Path, state: Mapping[str, Any], config: Any = None) -> Path:
    """Write ``state`` (+ the config it was trained with) to ``path`` atomically."""
    torch = require("torch")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": CHECKPOINT_FORMAT, **state}
    if config is not None:
        payload["config"] = config_dict(config)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(
    path: Path, config: Any = None, must_match: Iterable[str] = (), *, map_location: str = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; the keys of ``must_match`` must equal ``config``'s."""
    torch = require("torch")
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle.UnpicklingError for code, RuntimeError/EOFError for junk
        raise InvalidInputError(
            f"{path}: not a loadable checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        ) from exc
    if not isinstance(state, dict):
        raise InvalidInputError(f"{path}: not a checkpoint (a {type(state).__name__}, expected a dict)")
    keys = list(must_match)
    if config is not None and keys:
        saved = state.get("config") or {}
        want = config_dict(config)
        diff = [k for k in keys if saved.get(k) != want.get(k)]
        if diff:
            details = ", ".join(f"{k}: checkpoint {saved.get(k)!r} vs now {want.get(k)!r}" for k in diff)
            raise InvalidInputError(f"{path}: made with another config ({details})")
    return state


def resolve_device(device: str) -> str:
    """The torch device string for a Settings ``device``; a device this machine lacks is a clear error."""
    torch = require("torch")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInputError(f"device {device!r}: no CUDA GPU on this machine (use device = cpu)")
    if device == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise InvalidInputError("device 'mps': not available on this machine (use device = cpu)")
    return device


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` intra-op threads (0: unchanged), then restore the previous setting."""
    torch = require("torch")
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n:
            torch.set_num_threads(before)
