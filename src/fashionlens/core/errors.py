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


class CorruptWeightsError(FashionlensError, ValueError):
    """A weights file exists but its content does not match the hash embedded in its name."""


class ModelBuildError(FashionlensError, RuntimeError):
    """A model file could not be built or loaded (an ONNX export or int8 build failed)."""


# Exit codes of the CLI and HTTP statuses of the server, by error class name (most specific first,
# so classes added below are covered by name without an import cycle).
_EXIT_CODES = {
    "ConflictError": 6,
    "StoreError": 5,
    "WeightsNotFoundError": 4,
    "MissingDependencyError": 4,
    "NotReadyError": 3,
    "InvalidInputError": 1,
}
_HTTP_STATUS = {
    "NotFoundError": 404,
    "ConflictError": 409,
    "StoreError": 503,
    "WeightsNotFoundError": 503,
    "MissingDependencyError": 501,
    "NotReadyError": 409,
    "CorruptWeightsError": 500,
    "ModelBuildError": 500,
    "InvalidInputError": 400,
}


def _lookup(exc: BaseException, table: dict[str, int]) -> int | None:
    for cls in type(exc).__mro__:
        if cls.__name__ in table:
            return table[cls.__name__]
    return None


def exit_code(exc: BaseException) -> int:
    """The CLI exit code of a library error (1 for a fashionlens error, 2 for anything else)."""
    code = _lookup(exc, _EXIT_CODES)
    if code is not None:
        return code
    return 1 if isinstance(exc, FashionlensError) else 2


def http_status(exc: BaseException) -> int:
    """The HTTP status the server answers a library error with."""
    code = _lookup(exc, _HTTP_STATUS)
    if code is not None:
        return code
    return 400 if isinstance(exc, FashionlensError) else 500


class StoreError(FashionlensError, RuntimeError):
    """The catalogue database cannot do what was asked (read-only, corrupt, not a folder, ...);
    the message names the table and the problem."""


def require(module: str, extra: str | None = None, package: str | None = None):
    """Import an optional dependency or raise `MissingDependencyError` naming the pip install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module, extra, package) from exc
