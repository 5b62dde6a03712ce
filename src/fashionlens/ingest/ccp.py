"""Reader for Clothing Co-Parsing (CCP): street photos with pixel-level or image-level garment labels.

Layout (``root``)::

    photos/0001.jpg ... 2098.jpg
    annotations/pixel-level/0001.mat ... 1004.mat   variable ``groundtruth``: uint8 (h, w) label map
    annotations/image-level/1005.mat ... 2098.mat   variable ``tags``: label numbers (n x 1 or 1 x n)
    label_list.mat                                  variable ``label_list``: 1 x 59 names, 0 = 'null'

Label index 0 (``null``) is background and never reported as a label name. A photo's labels come
from its pixel map if ``pixel-level/<stem>.mat`` exists, else from ``image-level/<stem>.mat``.

Decision on bad annotations: the photo is a valid image, so it is still registered (an
`ImageRecord`) but gets no `ImageLabel`; the annotation file goes into ``skipped`` with the reason
(not a MAT file, variable missing, label index out of range, map size differs from the photo). A
photo with no annotation file at all is registered too, and listed in ``skipped`` under its own
path with the reason "registered without labels: ...". A photo that is not a readable image is
skipped itself and its annotation is not read. A photo whose bytes repeat an earlier photo (0025
and 1707 in the real data) is skipped: both would share one content-hash ``image_id``; the first,
with its annotation, is kept.
"""

from __future__ import annotations

import io
import logging
import math
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import coarse_category, map_to_modanet
from fashionlens.core.types import ImageLabel, IngestResult, Skipped
from fashionlens.ingest.base import IMAGE_EXTENSIONS, current_limits, display_path, make_record, read_bytes
from fashionlens.ingest.images import ImageLimits

logger = logging.getLogger(__name__)

CCP_NUM_LABELS = 59
PIXEL_DIR = Path("annotations") / "pixel-level"
TAGS_DIR = Path("annotations") / "image-level"
LABEL_SOURCE_PIXEL = "ccp-pixel"
LABEL_SOURCE_TAGS = "ccp-tags"


def _loadmat(path: Path) -> dict[str, object]:
    """`scipy.io.loadmat` of an untrusted file, any failure an `InvalidInputError` naming it.

    Only a regular file within the byte limit is read (`read_bytes`); compressed variables may
    not inflate past `max_mat_bytes`, and no variable may hold more elements than an image may
    hold pixels (`reading_limits`), both checked before scipy allocates anything.
    """
    from scipy.io import loadmat, whosmat

    limits = current_limits()
    data = read_bytes(path)
    name = display_path(path)
    try:
        _check_inflated_size(data, max_mat_bytes(limits))
        for var, shape, _ in whosmat(io.BytesIO(data)):
            n = math.prod(int(d) for d in shape)
            if n > limits.max_pixels:
                raise InvalidInputError(
                    f"variable {var!r} has shape {shape}: {n} values, over the limit of "
                    f"{limits.max_pixels} (max_image_pixels)"
                )
        return dict(loadmat(io.BytesIO(data)))
    except InvalidInputError as exc:
        raise InvalidInputError(f"{name}: refused, {exc}") from exc
    except Exception as exc:
        # scipy raises a zoo of errors on non-MAT, truncated, crafted or v7.3/HDF5 files
        raise InvalidInputError(f"{name}: not a readable MAT file ({type(exc).__name__}: {exc})") from exc


def max_mat_bytes(limits: ImageLimits) -> int:
    """How far a MAT file's compressed variables may inflate: 8 bytes (a double) per allowed pixel."""
    return 8 * limits.max_pixels + (1 << 20)


def _check_inflated_size(data: bytes, limit: int) -> None:
    """Refuse a MAT v5 file whose compressed elements inflate past ``limit`` bytes (a zip bomb),
    inflating in 1 MB steps without keeping the output. Other files are left to scipy."""
    if len(data) < 136 or data[126:128] not in (b"IM", b"MI"):
        return
    order = "<" if data[126:128] == b"IM" else ">"
    pos, total = 128, 0
    while pos + 8 <= len(data):
        mdtype, nbytes = struct.unpack_from(order + "II", data, pos)
        pos += 8
        if mdtype >> 16:  # a small data element: its 4 bytes of data sit in the tag
            continue
        if mdtype == 15:  # miCOMPRESSED
            inflater = zlib.decompressobj()
            chunk = data[pos : pos + nbytes]
            while chunk:
                total += len(inflater.decompress(chunk, 1 << 20))
                if total > limit:
                    raise InvalidInputError(f"compressed variables inflate past {limit} bytes")
                chunk = inflater.unconsumed_tail
        pos += nbytes  # as scipy walks top-level variables: no padding


def _variable(mat: dict[str, object], name: str, path: Path) -> np.ndarray:
    if name not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise InvalidInputError(f"{path}: no variable {name!r} (found {', '.join(found) or 'none'})")
    value = mat[name]
    if not isinstance(value, np.ndarray):
        raise InvalidInputError(f"{path}: variable {name!r} is not an array")
    return value


def ccp_label_names(root: Path) -> tuple[str, ...]:
    """The 59 CCP label names from ``root/label_list.mat`` (index 0 = ``'null'``, background)."""
    path = Path(root) / "label_list.mat"
    raw = _variable(_loadmat(path), "label_list", path)
    names: list[str] = []
    for cell in raw.ravel():
        arr = np.asarray(cell).ravel()
        names.append(str(arr[0]) if arr.size else "")
    if len(names) != CCP_NUM_LABELS:
        raise InvalidInputError(f"{path}: expected {CCP_NUM_LABELS} label names; got {len(names)}")
    return tuple(names)


def _check_indices(values: np.ndarray, path: Path, num_labels: int) -> np.ndarray:
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            raise InvalidInputError(f"{path}: label numbers must be whole numbers")
    elif values.dtype.kind not in "iu":
        raise InvalidInputError(f"{path}: label numbers must be integers; got dtype {values.dtype}")
    if values.size:
        lo, hi = values.min(), values.max()
        if lo < 0 or hi >= num_labels:
            raise InvalidInputError(
                f"{path}: label index out of range: got {lo}..{hi}, expected 0..{num_labels - 1}"
            )
    return values


def _mask(mat: dict[str, object], path: Path, num_labels: int) -> np.ndarray:
    gt = _variable(mat, "groundtruth", path)
    if gt.ndim != 2 or 0 in gt.shape:
        raise InvalidInputError(f"{path}: groundtruth must be a 2-D (h, w) label map; got shape {gt.shape}")
    return _check_indices(gt, path, num_labels).astype(np.uint8, copy=False)


def load_ccp_mask(path: Path, num_labels: int = CCP_NUM_LABELS) -> np.ndarray:
    """A pixel-level annotation as a ``uint8 (h, w)`` label map (values index `ccp_label_names`)."""
    path = Path(path)
    return _mask(_loadmat(path), path, num_labels)


def _read_indices(path: Path, num_labels: int) -> tuple[str, np.ndarray, tuple[int, int] | None]:
    """``(label_source, sorted unique label indices, mask shape or None)`` of one annotation file."""
    mat = _loadmat(path)
    if "groundtruth" in mat:
        mask = _mask(mat, path, num_labels)
        present = np.flatnonzero(np.bincount(mask.ravel(), minlength=num_labels))  # 10x faster than unique
        return LABEL_SOURCE_PIXEL, present, (int(mask.shape[0]), int(mask.shape[1]))
    if "tags" in mat:
        tags = _check_indices(_variable(mat, "tags", path).ravel(), path, num_labels)
        return LABEL_SOURCE_TAGS, np.unique(tags).astype(int), None
    found = sorted(k for k in mat if not k.startswith("__"))
    raise InvalidInputError(
        f"{path}: no variable 'groundtruth' or 'tags' (found {', '.join(found) or 'none'})"
    )


def _names(indices: np.ndarray, label_names: Sequence[str]) -> tuple[str, ...]:
    return tuple(label_names[i] for i in indices.tolist() if i != 0)


def read_ccp_labels(path: Path, label_names: Sequence[str] | None = None) -> tuple[str, ...]:
    """Label names present in one annotation file (pixel map values or tags), by label index, no ``null``.

    ``label_names`` defaults to the ``label_list.mat`` of the dataset the file sits in
    (``<root>/annotations/<level>/<file>.mat``).
    """
    path = Path(path)
    if label_names is None:
        parents = path.resolve().parents
        if len(parents) < 3 or not (parents[2] / "label_list.mat").is_file():
            raise InvalidInputError(
                f"{path}: no label_list.mat two folders up; pass label_names=ccp_label_names(root)"
            )
        label_names = ccp_label_names(parents[2])
    _, indices, _ = _read_indices(path, len(label_names))
    return _names(indices, label_names)


def _annotation_path(root: Path, stem: str) -> Path | None:
    for folder in (PIXEL_DIR, TAGS_DIR):
        candidate = root / folder / f"{stem}.mat"
        if os.path.lexists(candidate):  # not is_file(): a FIFO or link to a device is reported
            return candidate
    return None


def read_ccp(
    root: Path,
    *,
    source: str = "street",
    split: str = "unsplit",
    limit: int | None = None,
) -> IngestResult:
    """Read CCP photos and their labels (see the module docstring for what is skipped and why).

    ``limit`` reads only the first ``limit`` photos (in file-name order). Raises `InvalidInputError`
    only when the dataset as a whole is unusable (no ``photos/`` folder, bad ``label_list.mat``).
    """
    root = Path(root)
    photos_dir = root / "photos"
    if not photos_dir.is_dir():
        raise InvalidInputError(f"{root}: no photos/ folder; is this the Clothing Co-Parsing dataset?")
    if limit is not None and limit < 0:
        raise InvalidInputError(f"limit must be >= 0; got {limit}")
    label_names = ccp_label_names(root)
    try:
        photos = sorted(p for p in photos_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    except OSError as exc:
        raise InvalidInputError(f"{display_path(photos_dir)}: cannot list ({exc.strerror or exc})") from exc
    if limit is not None:
        photos = photos[:limit]

    result = IngestResult()
    first_by_hash: dict[str, str] = {}
    for photo in photos:
        record = make_record(photo, source=source, dataset="ccp", split=split)
        if isinstance(record, Skipped):
            result.skipped.append(record)
            continue
        first = first_by_hash.get(record.content_hash)
        if first is not None:
            result.skipped.append(Skipped(str(photo), f"same image bytes as photos/{first}; first kept"))
            continue
        first_by_hash[record.content_hash] = photo.name
        result.images.append(record)

        ann = _annotation_path(root, photo.stem)
        if ann is None:
            where = f"neither {PIXEL_DIR / photo.stem}.mat nor {TAGS_DIR / photo.stem}.mat"
            logger.warning("no labels for %s: %s exists", photo.name, where)
            result.skipped.append(Skipped(str(photo), f"registered without labels: {where} exists"))
            continue
        try:
            label_source, indices, mask_hw = _read_indices(ann, len(label_names))
            if mask_hw is not None and mask_hw != (record.height, record.width):
                raise InvalidInputError(
                    f"{ann}: label map is {mask_hw[1]}x{mask_hw[0]} but photos/{photo.name} "
                    f"is {record.width}x{record.height}"
                )
        except InvalidInputError as exc:
            logger.warning("no labels for %s: %s", photo.name, exc)
            result.skipped.append(Skipped(str(ann), str(exc).removeprefix(f"{ann}: ")))
            continue
        names = _names(indices, label_names)
        categories = map_to_modanet(names, "ccp")
        result.labels.append(
            ImageLabel(
                image_id=record.image_id,
                image_filename=f"photos/{photo.name}",
                label_source=label_source,
                modanet_categories=categories,
                coarse_category=coarse_category(categories),
                attributes={"ccp_labels": "|".join(names)},
            )
        )

    logger.info(
        "%s: %d photos read, %d labelled, %d skipped",
        root,
        len(result.images),
        len(result.labels),
        len(result.skipped),
    )
    return result


SEGMENTATION_TEST_EVERY = 5


def ccp_pixel_split(root: Path, test_every: int = SEGMENTATION_TEST_EVERY) -> tuple[list[str], list[str]]:
    """The fixed segmentation split of CCP's pixel-labelled photos -> ``(train stems, test stems)``.

    Every photo with ``annotations/pixel-level/<stem>.mat`` and ``photos/<stem>.jpg``; those whose
    number is a multiple of ``test_every`` (0005, 0010, ... : 200 of the 1,004) are held out. Every
    segmentation model trains on the first list and reports on the second, so their figures compare.
    """
    root = Path(root)
    pixel = root / PIXEL_DIR
    if not pixel.is_dir():
        raise InvalidInputError(f"{root}: no {PIXEL_DIR}/ folder; is this the Clothing Co-Parsing dataset?")
    if test_every < 2:
        raise InvalidInputError(f"test_every must be >= 2; got {test_every}")
    stems = sorted(p.stem for p in pixel.glob("*.mat") if (root / "photos" / f"{p.stem}.jpg").is_file())
    if not stems:
        raise InvalidInputError(f"{pixel}: no annotation with a matching photos/<stem>.jpg")
    test = [s for s in stems if s.isdigit() and int(s) % test_every == 0]
    held = set(test)
    return [s for s in stems if s not in held], test
