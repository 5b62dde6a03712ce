"""Fashion-MNIST from its idx files (Debian package ``dataset-fashion-mnist``) to a PNG subset.

The package installs ``/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``.
`read_fashion_mnist` writes a deterministic, class-balanced subset -- the first ``per_class``
images of each class, in idx order, per split -- as ``out_dir/<split>/<class_slug>/<index>.png``
(``index`` is the position in the idx file, zero-padded to 5 digits) and registers them. Re-running
is idempotent: a PNG whose bytes are already on disk is not rewritten.
"""

from __future__ import annotations

import io
import logging
import os
import re
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import coarse_category, label_maps, map_to_modanet
from fashionlens.core.types import ImageLabel, ImageRecord, IngestResult, Skipped
from fashionlens.ingest.base import content_hash, image_id_from_hash, read_bytes

logger = logging.getLogger(__name__)

ENV_VAR = "FASHIONLENS_FASHION_MNIST"
SYSTEM_PATH = Path("/usr/share/datasets/fashion-mnist")
SPLIT_PREFIX = {"train": "train", "test": "t10k"}
LABEL_SOURCE = "fashion-mnist"
INSTALL_HINT = (
    "install it with `apt-get install dataset-fashion-mnist` "
    f"(or point {ENV_VAR} at the folder holding the idx files)"
)

# idx type byte -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def fashion_mnist_classes() -> tuple[str, ...]:
    """The 10 class names, in label order (0 = T-shirt/top ... 9 = Ankle boot)."""
    return tuple(label_maps()["fashion_mnist_classes"])  # type: ignore[arg-type]


def class_slug(name: str) -> str:
    """Folder name of a class: ``'T-shirt/top'`` -> ``'t-shirt-top'``, ``'Ankle boot'`` -> ``ankle-boot``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _idx_file(root: Path, split: str, kind: str) -> Path | None:
    """``<prefix>-images-idx3-ubyte[.gz]`` or ``<prefix>-labels-idx1-ubyte[.gz]`` in ``root``, if there."""
    stem = f"{SPLIT_PREFIX[split]}-{kind}-ubyte"
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    return None


def _has_all_files(root: Path) -> bool:
    return all(
        _idx_file(root, split, kind) is not None
        for split in SPLIT_PREFIX
        for kind in ("images-idx3", "labels-idx1")
    )


def default_search_paths() -> list[Path]:
    """``$FASHIONLENS_FASHION_MNIST`` (if set), then the Debian package's folder."""
    paths = []
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env).expanduser()
        paths.append(p.parent if p.is_file() else p)
    paths.append(SYSTEM_PATH)
    return paths


def find_fashion_mnist(paths: Sequence[Path | str] | None = None) -> Path | None:
    """The first folder of ``paths`` (default `default_search_paths`) holding all four idx files."""
    for p in default_search_paths() if paths is None else [Path(p) for p in paths]:
        if p.is_dir() and _has_all_files(p):
            return p
    return None


MAX_IDX_BYTES = 1 << 30  # Fashion-MNIST's largest idx file is 47 MB; a gzip bomb stops here


def _gunzip(data: bytes, path: Path, limit: int = MAX_IDX_BYTES) -> bytes:
    """Inflate gzip ``data`` in 1 MB steps; refuse output past ``limit`` bytes (a gzip bomb)."""
    inflater = zlib.decompressobj(wbits=31)  # gzip header
    out: list[bytes] = []
    total = 0
    chunk = data
    try:
        while not inflater.eof:
            piece = inflater.decompress(chunk, 1 << 20)
            chunk = inflater.unconsumed_tail
            if not piece and not chunk:  # no input left and nothing pending
                break
            total += len(piece)
            if total > limit:
                raise InvalidInputError(f"{path}: gzip data inflates past {limit} bytes; refused")
            out.append(piece)
        if not inflater.eof:
            raise InvalidInputError(f"{path}: corrupt gzip data (truncated stream)")
    except zlib.error as exc:
        raise InvalidInputError(f"{path}: corrupt gzip data ({exc})") from exc
    return b"".join(out)


def read_idx(path: Path) -> np.ndarray:
    """Parse an idx file (gzip-compressed or raw) into a native-endian array of its declared shape.

    Raises `InvalidInputError` naming the file for a bad magic number, an unknown type code, or
    a payload whose size does not match the declared dimensions.
    """
    path = Path(path)
    data = read_bytes(path)
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, path)
    if len(data) < 4:
        raise InvalidInputError(f"{path}: too short for an idx header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise InvalidInputError(f"{path}: not an idx file (magic starts {data[:2].hex()}, expected 0000)")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise InvalidInputError(f"{path}: unknown idx type code 0x{type_code:02x}")
    if ndim == 0:
        raise InvalidInputError(f"{path}: idx file declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InvalidInputError(f"{path}: truncated idx header ({len(data)} bytes, need {header})")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header
    if got != expected:
        raise InvalidInputError(
            f"{path}: idx payload is {got} bytes; dimensions {shape} of {dtype.name} need {expected}"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _load_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = _idx_file(root, split, "images-idx3")
    labels_path = _idx_file(root, split, "labels-idx1")
    if images_path is None or labels_path is None:
        raise InvalidInputError(f"{root}: Fashion-MNIST {split} idx files not found; {INSTALL_HINT}")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise InvalidInputError(
            f"{images_path}: expected uint8 (N, H, W) images; got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise InvalidInputError(
            f"{labels_path}: expected {len(images)} labels (one per image); got shape {labels.shape}"
        )
    n_classes = len(fashion_mnist_classes())
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise InvalidInputError(f"{labels_path}: labels must be in 0..{n_classes - 1}")
    return images, labels


def select_balanced(labels: np.ndarray, per_class: int, n_classes: int) -> list[int]:
    """Indices of the first ``per_class`` items of each class, in idx order (deterministic)."""
    chosen: list[int] = []
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)[:per_class]
        if len(idx) < per_class:
            logger.warning("class %d has only %d images, fewer than per_class=%d", c, len(idx), per_class)
        chosen.extend(idx.tolist())
    return sorted(chosen)


def _png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` unless the file already holds exactly these bytes; True if written."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def read_fashion_mnist(
    root: Path | None,
    out_dir: Path,
    *,
    per_class: int = 100,
    splits: Sequence[str] = ("train", "test"),
) -> IngestResult:
    """Write a class-balanced PNG subset of Fashion-MNIST into ``out_dir`` and register it.

    ``root`` is the folder of the idx files; ``None`` searches `default_search_paths`. Raises
    `InvalidInputError` saying how to install the dataset when it is not there.
    """
    if root is None:
        root = find_fashion_mnist()
        if root is None:
            searched = ", ".join(str(p) for p in default_search_paths())
            raise InvalidInputError(f"Fashion-MNIST not found (searched {searched}); {INSTALL_HINT}")
    root, out_dir = Path(root), Path(out_dir)
    if not root.is_dir():
        raise InvalidInputError(f"{root}: Fashion-MNIST folder not found; {INSTALL_HINT}")
    if per_class <= 0:
        raise InvalidInputError(f"per_class must be >= 1; got {per_class}")
    bad = [s for s in splits if s not in SPLIT_PREFIX]
    if bad:
        raise InvalidInputError(f"splits must be among {', '.join(SPLIT_PREFIX)}; got {', '.join(bad)}")

    classes = fashion_mnist_classes()
    result = IngestResult()
    written = 0
    first_by_hash: dict[str, str] = {}
    for split in splits:
        images, labels = _load_split(root, split)
        for i in select_balanced(labels, per_class, len(classes)):
            name = classes[int(labels[i])]
            rel = f"{split}/{class_slug(name)}/{i:05d}.png"
            path = out_dir / rel
            data = _png_bytes(images[i])
            digest = content_hash(data)
            if digest in first_by_hash:
                reason = f"same pixels as {first_by_hash[digest]}; first kept"
                result.skipped.append(Skipped(str(path), reason))
                continue
            first_by_hash[digest] = rel
            try:
                written += _write_if_changed(path, data)
            except OSError as exc:
                logger.warning("cannot write %s: %s", path, exc)
                result.skipped.append(Skipped(str(path), f"cannot write ({exc.strerror or exc})"))
                continue
            image_id = image_id_from_hash(digest)
            height, width = images[i].shape
            result.images.append(
                ImageRecord(
                    image_id=image_id,
                    source="product",
                    original_dataset="fashion-mnist",
                    image_path=str(path.resolve()),
                    split=split,
                    width=int(width),
                    height=int(height),
                    content_hash=digest,
                )
            )
            categories = map_to_modanet([name], "fashion_mnist")
            result.labels.append(
                ImageLabel(
                    image_id=image_id,
                    image_filename=rel,
                    label_source=LABEL_SOURCE,
                    modanet_categories=categories,
                    coarse_category=coarse_category(categories),
                    attributes={"label": name},
                )
            )
    logger.info(
        "Fashion-MNIST: %d images registered into %s (%d written, %d already there), %d skipped",
        len(result.images),
        out_dir,
        written,
        len(result.images) - written,
        len(result.skipped),
    )
    return result
