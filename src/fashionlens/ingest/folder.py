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
from fashionlens.ingest.base import IMAGE_EXTENSIONS, display_path, make_record
from fashionlens.ingest.images import UNSUPPORTED_EXTENSIONS
from fashionlens.ingest.records import display_text, is_within

logger = logging.getLogger(__name__)

SPLIT_FOLDERS = {"train": "train", "valid": "valid", "validation": "valid", "test": "test"}
# Extensions a folder scan picks up: what we decode, plus HEIC/AVIF... so they are reported, not ignored.
SCANNED_EXTENSIONS = IMAGE_EXTENSIONS | frozenset(UNSUPPORTED_EXTENSIONS)
OUTSIDE_HINT = "not followed out of the folder (allow_outside_root=True follows it)"


def find_images(root: Path) -> list[Path]:
    """Image files under ``root`` (by extension, case-insensitive), sorted; hidden files and folders
    (``.git``, ``.DS_Store``, ``._photo.jpg``) are left out, symlinks out of ``root`` too."""
    return scan_folder(root)[0]


def scan_folder(root: Path, *, allow_outside_root: bool = False) -> tuple[list[Path], list[Skipped]]:
    """``(image files, what was not looked at and why)`` under ``root``.

    Reported, not silently dropped: a sub-folder that cannot be listed (permissions), a symlink
    (to a file or folder) that leads out of ``root``, a symlink to a folder (not followed: its
    target is read where it lies). With ``allow_outside_root`` symlinked folders and files are
    followed wherever they lead (each real folder once, so a link loop ends). Files with an
    unsupported image extension (HEIC...) are returned: `make_record` skips them with the reason.
    """
    root = Path(root)
    found: list[Path] = []
    skipped: list[Skipped] = []
    seen_dirs: set[str] = set()

    def unreadable(exc: OSError) -> None:
        where = display_path(exc.filename) if exc.filename else display_path(root)
        reason = f"cannot list this folder ({exc.strerror or exc}); its files were not read"
        logger.warning("skipping %s: %s", where, reason)
        skipped.append(Skipped(where, reason))

    for folder, dirs, files in os.walk(root, onerror=unreadable, followlinks=allow_outside_root):
        if allow_outside_root:
            real = os.path.realpath(folder)
            if real in seen_dirs:  # a link loop, or two links to one folder
                dirs[:] = []
                continue
            seen_dirs.add(real)
        keep = []
        for d in sorted(d for d in dirs if not d.startswith(".")):
            sub = Path(folder) / d
            if allow_outside_root or not _is_link(sub):
                keep.append(d)
                continue
            where = "out of the folder" if not is_within(sub, root) else "to a folder inside it"
            skipped.append(Skipped(display_path(sub), f"symlink {where}; {OUTSIDE_HINT}"))
        dirs[:] = keep
        for f in files:
            if f.startswith(".") or Path(f).suffix.lower() not in SCANNED_EXTENSIONS:
                continue
            path = Path(folder) / f
            if not allow_outside_root and _is_link(path) and not is_within(path, root):
                skipped.append(
                    Skipped(display_path(path), f"symlink to a file outside the folder; {OUTSIDE_HINT}")
                )
                continue
            found.append(path)
    return sorted(found), skipped


def _is_link(path: Path) -> bool:
    try:
        return path.is_symlink()
    except OSError:  # a path too long to stat: listing it fails next, and is reported
        return False


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
    allow_outside_root: bool = False,
) -> IngestResult:
    """One `ImageRecord` per image file under ``root``; unreadable files become `Skipped`.

    With ``labels_from_subfolders`` the first sub-folder (after the split folder, if any) is the
    image's label; ``label_scheme`` (e.g. "clothing") maps it to ModaNet classes and a coarse
    category. Files with the same bytes are read once. ``dataset`` defaults to the folder name.
    Every file and folder not taken is in ``skipped`` with the reason (see `scan_folder`; symlinks
    out of ``root`` are followed only with ``allow_outside_root``). Raises `InvalidInputError` for
    a missing folder or one without image files.
    """
    root = Path(root)
    if source not in SOURCES:
        raise InvalidInputError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    if split not in SPLITS:
        raise InvalidInputError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    if label_scheme:
        map_to_modanet((), label_scheme)  # unknown scheme: fail before reading anything
    if not root.is_dir():
        raise InvalidInputError(f"{display_path(root)}: folder not found")
    dataset = display_text(dataset or display_path(root.resolve().name))
    paths, not_read = scan_folder(root, allow_outside_root=allow_outside_root)
    if not paths:
        why = (
            f"; {len(not_read)} entries not read, e.g. {not_read[0].path}: {not_read[0].reason}"
            if not_read
            else ""
        )
        raise InvalidInputError(
            f"{display_path(root)}: no image files (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}, "
            f"recursively){why}"
        )
    split_layout = detect_split_layout(root, paths)
    if split_layout and split != "unsplit":
        logger.warning("%s: split folders found; they override split=%r", root, split)

    result = IngestResult(skipped=not_read)
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
