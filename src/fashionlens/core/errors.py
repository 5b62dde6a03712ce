"""Library exceptions. The CLI turns each into one clear line and a non-zero exit."""

from __future__ import annotations


class FashionlensError(Exception):
    """Base class of every error fashionlens raises on purpose."""


class InvalidInputError(FashionlensError, ValueError):
    """A file, argument or value the library cannot use; the message names it and the problem."""


class MissingDependencyError(FashionlensError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, module: str, extra: str | None = None, package: str | None = None) -> None:
        pkg = package or module
        hint = f"pip install 'fashionlens[{extra}]'" if extra else f"pip install {pkg}"
        super().__init__(f"{module} is not installed; run: {hint}")
        self.module = module


class WeightsNotFoundError(FashionlensError, FileNotFoundError):
    """Pretrained weights are not on this machine and cannot be downloaded."""


class NotReadyError(FashionlensError, RuntimeError):
    """A step needs the output of an earlier step that has not run (no embeddings, no model...)."""


class ConflictError(FashionlensError):
    """A write based on a stale version of a record (someone changed it first); reload and retry."""


def require(module: str, extra: str | None = None, package: str | None = None):
    """Import an optional dependency or raise `MissingDependencyError` naming the pip install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module, extra, package) from exc
