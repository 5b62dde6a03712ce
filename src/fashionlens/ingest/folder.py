"""A folder of images, optionally labelled by sub-folder and split into train/valid/test folders.

Layouts::

    root/**/*.jpg                        plain: every image, split as given
    root/<label>/**/*.jpg                labels_from_subfolders: the first sub-folder is the label
    root/{train,valid,validation,test}/<label>/**/*.jpg
                                         split layout: the split comes from the folder
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import coarse_category, map_to_modanet
from fashionlens.core.types import SOURCES, SPLITS, ImageLabel, IngestResult, Skipped
from fashionlens.ingest.base import IMAGE_EXTENSIONS, make_record

logger = logging.getLogger(__name__)

SPLIT_FOLDERS = {"train": "train", "valid": "valid", "validation": "valid", "test": "test"}


def find_images(root: Path) -> list[Path]:
    """Image files under ``root`` (by extension, case-insensitive), sorted; hidden files and folders
    (``.git``, ``.DS_Store``, ``._photo.jpg``) are left out."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            Path(folder) / f
            for f in files
            if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS
        )
    return sorted(found)


def detect_split_layout(root: Path, images: list[Path]) -> bool:
    """True when every top-level folder holding images is a split folder (train, valid, test...)."""
    top = {p.relative_to(root).parts[0] for p in images if len(p.relative_to(root).parts) > 1}
    return bool(top) and all(name.lower() in SPLIT_FOLDERS for name in top)


def read_folder(
    root: Path,
    *,
    source: str,
    dataset: str | None = None,
    split: str = "unsplit",
    labels_from_subfolders: bool = False,
    label_scheme: str | None = None,
) -> IngestResult:
    """One `ImageRecord` per image file under ``root``; unreadable files become `Skipped`.

    With ``labels_from_subfolders`` the first sub-folder (after the split folder, if any) is the
    image's label; ``label_scheme`` (e.g. "clothing") maps it to ModaNet classes and a coarse
    category. Files with the same bytes are read once. ``dataset`` defaults to the folder name.
    Raises `InvalidInputError` for a missing folder or one without image files.
    """
    root = Path(root)
    if source not in SOURCES:
        raise InvalidInputError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    if split not in SPLITS:
        raise InvalidInputError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    if label_scheme:
        map_to_modanet((), label_scheme)  # unknown scheme: fail before reading anything
    if not root.is_dir():
        raise InvalidInputError(f"{root}: folder not found")
    dataset = dataset or root.resolve().name
    paths = find_images(root)
    if not paths:
        raise InvalidInputError(
            f"{root}: no image files (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}, recursively)"
        )
    split_layout = detect_split_layout(root, paths)
    if split_layout and split != "unsplit":
        logger.warning("%s: split folders found; they override split=%r", root, split)

    result = IngestResult()
    first_path: dict[str, str] = {}
    unlabelled = 0
    unmapped: set[str] = set()
    for path in paths:
        parts = path.relative_to(root).parts
        file_split = split
        if split_layout and len(parts) > 1:
            file_split, parts = SPLIT_FOLDERS[parts[0].lower()], parts[1:]
        record = make_record(path, source=source, dataset=dataset, split=file_split)
        if isinstance(record, Skipped):
            result.skipped.append(record)
            continue
        if record.image_id in first_path:
            result.skipped.append(
                Skipped(str(path), f"same bytes as {first_path[record.image_id]}; read once")
            )
            continue
        first_path[record.image_id] = str(path)
        result.images.append(record)
        if not labels_from_subfolders:
            continue
        if len(parts) < 2:
            unlabelled += 1
            continue
        label = parts[0]
        modanet = map_to_modanet([label], label_scheme) if label_scheme else ()
        if label_scheme and not modanet:
            unmapped.add(label)
        result.labels.append(
            ImageLabel(
                image_id=record.image_id,
                image_filename=path.relative_to(root).as_posix(),
                label_source=dataset,
                modanet_categories=modanet,
                coarse_category=coarse_category(modanet) if label_scheme else "",
                attributes={"label": label},
            )
        )
    if unlabelled:
        logger.warning("%s: %d images are not in a label sub-folder and got no label", root, unlabelled)
    if unmapped:
        logger.warning("%s: labels %s are not in the %r scheme", root, sorted(unmapped), label_scheme)
    logger.info(
        "%s: %d images, %d labels, %d skipped",
        root,
        len(result.images),
        len(result.labels),
        len(result.skipped),
    )
    return result
