"""Reader for the Kaggle "Fashion Product Images (Small)" layout: ``styles.csv`` + ``images/<id>.jpg``.

``styles.csv`` has the columns ``id,gender,masterCategory,subCategory,articleType,baseColour,season,
year,usage,productDisplayName``. As in the original file, some rows carry unquoted commas in
``productDisplayName`` and so have more fields than the header: the extra fields are joined back
into the display name (the only free-text column). Rows with fewer fields than the header cannot be
repaired and are skipped.

Per row the reader registers the image (`ImageRecord`, dataset ``products``) and an `ImageLabel`
whose ModaNet classes come from ``articleType`` through ``products_to_modanet`` in
``core/label_maps.json``; ``attributes`` holds every csv column as a string.

Not taken (each one a `Skipped` naming the file and the reason, the other rows still returned):
a row with a non-integer or repeated id, a missing / empty / truncated / non-image file, a row too
short to parse, a row with a field over 131,072 characters or a NUL character, and a photo whose
bytes are identical to an earlier row's photo (the catalogue lists some photos twice under two
ids; they would share one content-hash ``image_id``, and the first row wins).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import coarse_category, map_to_modanet
from fashionlens.core.types import ImageLabel, IngestResult, Skipped
from fashionlens.ingest.base import display_path, make_record
from fashionlens.ingest.images import ImageLimits, read_image_bytes
from fashionlens.ingest.records import MAX_ANNOTATION_BYTES, is_within

logger = logging.getLogger(__name__)

STYLES_COLUMNS: tuple[str, ...] = (
    "id",
    "gender",
    "masterCategory",
    "subCategory",
    "articleType",
    "baseColour",
    "season",
    "year",
    "usage",
    "productDisplayName",
)
"""Columns ``styles.csv`` must have (any order; extra columns are kept as attributes)."""

FREE_TEXT_COLUMN = "productDisplayName"
_ID = re.compile(r"[0-9]{1,18}", re.ASCII)  # an image file name: ASCII digits only
LABEL_SOURCE = "products"


MAX_FIELD_CHARS = 131_072  # csv's default field_size_limit: a longer field skips its row
_CSV_LIMIT_LOCK = threading.Lock()


@contextlib.contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """Raise `csv.field_size_limit` (process-wide) to at least ``limit`` for one parse, then restore.

    The text is already in memory, so a long field costs nothing more; parsing it whole keeps the
    reader in step (a field cut at the limit would make the rest of a quoted field new rows).
    """
    with _CSV_LIMIT_LOCK:
        old = csv.field_size_limit()
        csv.field_size_limit(max(old, limit))
        try:
            yield
        finally:
            csv.field_size_limit(old)


def _parse_styles_csv(path: Path) -> tuple[list[tuple[int, dict[str, str]]], list[Skipped]]:
    """Parse ``styles.csv`` into ``(line, {column: stripped value})`` rows and the lines it cannot use."""
    name = display_path(path)
    data = read_image_bytes(path, ImageLimits(max_bytes=MAX_ANNOTATION_BYTES), allow_empty=True)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    with _csv_field_limit(len(text) + 1):
        return _parse_rows(text, path)


def _parse_rows(text: str, path: Path) -> tuple[list[tuple[int, dict[str, str]]], list[Skipped]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    for fields in reader:
        if any(f.strip() for f in fields):
            header = [f.strip() for f in fields]
            break
    if header is None:
        raise InvalidInputError(f"{path}: empty file; expected a header with {', '.join(STYLES_COLUMNS)}")
    missing = [c for c in STYLES_COLUMNS if c not in header]
    if missing:
        raise InvalidInputError(
            f"{path}: missing required column(s) {', '.join(missing)}; header is {', '.join(header)[:300]}"
        )
    free = header.index(FREE_TEXT_COLUMN)

    rows: list[tuple[int, dict[str, str]]] = []
    skipped: list[Skipped] = []
    end = reader.line_num
    for fields in reader:
        line, end = end + 1, reader.line_num  # where the row starts (a quoted field spans lines)
        if not any(f.strip() for f in fields):
            continue
        longest = max(len(f) for f in fields)
        if longest > MAX_FIELD_CHARS:
            reason = f"line {line}: a field of {longest} characters, over the limit of {MAX_FIELD_CHARS}"
            logger.warning("skipping %s %s", path, reason)
            skipped.append(Skipped(str(path), reason))
            continue
        if any("\x00" in f for f in fields):
            reason = f"line {line}: a field holds a NUL character"
            logger.warning("skipping %s %s", path, reason)
            skipped.append(Skipped(str(path), reason))
            continue
        extra = len(fields) - len(header)
        if extra > 0:
            # Unquoted commas in the display name: glue its pieces back together.
            fields = [*fields[:free], ",".join(fields[free : free + extra + 1]), *fields[free + extra + 1 :]]
            logger.debug("%s line %d: joined %d extra field(s) into %s", path, line, extra, FREE_TEXT_COLUMN)
        elif extra < 0:
            reason = f"line {line}: {len(fields)} fields, expected {len(header)}"
            logger.warning("skipping %s %s", path, reason)
            skipped.append(Skipped(str(path), reason))
            continue
        rows.append((line, {col: value.strip() for col, value in zip(header, fields, strict=True)}))
    return rows, skipped


def read_styles_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a ``styles.csv`` as ``{column: value}`` strings, in file order.

    Rows with extra unquoted commas in ``productDisplayName`` are repaired; rows with too few fields
    are logged and left out (`read_products` reports them as `Skipped`). Raises `InvalidInputError`
    naming the file for a missing/empty/non-UTF-8 file or missing required columns.
    """
    rows, _ = _parse_styles_csv(Path(path))
    return [row for _, row in rows]


def product_label(image_id: str, row: dict[str, str]) -> ImageLabel:
    """The `ImageLabel` of one ``styles.csv`` row (ModaNet classes from ``articleType``)."""
    categories = map_to_modanet([row["articleType"]], "products")
    return ImageLabel(
        image_id=image_id,
        image_filename=f"images/{row['id']}.jpg",
        label_source=LABEL_SOURCE,
        modanet_categories=categories,
        coarse_category=coarse_category(categories),
        attributes=dict(row),
    )


def read_products(
    root: Path,
    *,
    source: str = "product",
    dataset: str = "products",
    split: str = "unsplit",
    limit: int | None = None,
    allow_outside_root: bool = False,
) -> IngestResult:
    """Read a product catalogue folder (``root/styles.csv`` + ``root/images/<id>.jpg``).

    An image that is a symlink out of ``root/images`` is skipped (named, with the reason) unless
    ``allow_outside_root``.

    ``limit`` reads only the first ``limit`` data rows of ``styles.csv``. Bad rows and files become
    `Skipped` entries; only an unusable ``styles.csv`` (missing, empty, missing columns) raises
    `InvalidInputError`.
    """
    root = Path(root)
    if not root.is_dir():
        raise InvalidInputError(f"{root}: not a directory (expected styles.csv and images/)")
    if limit is not None and limit < 0:
        raise InvalidInputError(f"limit must be >= 0; got {limit}")
    csv_path = root / "styles.csv"
    rows, bad_lines = _parse_styles_csv(csv_path)
    if limit is not None:
        rows = rows[:limit]

    result = IngestResult(skipped=list(bad_lines))
    seen_ids: set[str] = set()
    first_by_hash: dict[str, str] = {}
    for line, row in rows:
        pid = row["id"]
        if not _ID.fullmatch(pid):
            result.skipped.append(Skipped(str(csv_path), f"line {line}: non-integer id {pid[:40]!r}"))
            continue
        if pid in seen_ids:
            reason = f"line {line}: id {pid} listed more than once; first row kept"
            result.skipped.append(Skipped(str(csv_path), reason))
            continue
        seen_ids.add(pid)
        image_path = root / "images" / f"{pid}.jpg"
        if not allow_outside_root and not is_within(image_path, root / "images"):
            reason = (
                f"line {line}: a symlink out of the images folder; not followed "
                "(allow_outside_root=True follows it)"
            )
            result.skipped.append(Skipped(str(image_path), reason))
            continue
        record = make_record(image_path, source=source, dataset=dataset, split=split)
        if isinstance(record, Skipped):
            result.skipped.append(record)
            continue
        first = first_by_hash.get(record.content_hash)
        if first is not None:
            result.skipped.append(
                Skipped(str(image_path), f"same image bytes as images/{first}.jpg (id {first}); first kept")
            )
            continue
        first_by_hash[record.content_hash] = pid
        result.images.append(record)
        result.labels.append(product_label(record.image_id, row))

    _log_summary(root, result)
    return result


def _log_summary(root: Path, result: IngestResult) -> None:
    logger.info("%s: %d products read, %d skipped", root, len(result.images), len(result.skipped))
    for s in result.skipped:
        logger.debug("skipped %s: %s", s.path, s.reason)
