"""Checks on untrusted annotation values, shared by the readers (COCO, DeepFashion2, ...).

Every function here returns a reason (``str``) or ``None``; none raises on any JSON value, however
crafted: wrong types, ``NaN``/``Infinity``, ``1e308``, booleans where numbers belong, lists where
ids belong, strings with lone surrogates (``"\\udce9"`` is valid JSON but not UTF-8), or nesting
deep enough to break a recursive walk. Readers turn a reason into a `Skipped` naming the file and
the record, and keep the other records.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

from fashionlens.core.errors import InvalidInputError
from fashionlens.ingest.images import ImageLimits, display_path, read_image_bytes

MAX_COORD = 1_000_000.0  # |x| or |y| beyond this many pixels is garbage, not a photo
MAX_DEPTH = 32  # nesting of a pass-through attribute (keypoints, attributes...)
MAX_ANNOTATION_BYTES = 2 * 1024**3  # an annotation file larger than this is refused unread
_DRIVE = re.compile(r"[A-Za-z]:[\\/]")
_MAX_INT_DIGITS = 100  # a JSON integer with more digits becomes inf (and fails every check)


def number(value: object) -> float | None:
    """``value`` as a finite float if it is an int or float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        f = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return f if math.isfinite(f) else None


def coordinate_problem(values: object, what: str) -> str | None:
    """Why ``values`` is not a list of finite pixel coordinates within +-`MAX_COORD`."""
    if not isinstance(values, list):
        return f"{what} {short_repr(values)} is not a list of numbers"
    for v in values:
        f = number(v)
        if f is None:
            return f"{what} has the value {short_repr(v)}; expected finite numbers"
        if abs(f) > MAX_COORD:
            return f"{what} has the value {short_repr(v)}, beyond +-{MAX_COORD:.0f} pixels"
    return None


def polygons_problem(polygons: object, what: str = "segmentation") -> str | None:
    """Why ``polygons`` is not a list of flat ``[x, y, x, y, ...]`` polygons of 3 or more points."""
    if not isinstance(polygons, list):
        return f"{what} {short_repr(polygons)} is not a list of polygons"
    for i, poly in enumerate(polygons):
        problem = coordinate_problem(poly, f"{what} polygon {i}")
        if problem:
            return problem
        if len(poly) % 2:  # type: ignore[arg-type]  # checked a list above
            return f"{what} polygon {i} has an odd number of values ({len(poly)}); expected x, y pairs"  # type: ignore[arg-type]
        if len(poly) < 6:  # type: ignore[arg-type]
            return f"{what} polygon {i} has {len(poly) // 2} points; a polygon needs 3"  # type: ignore[arg-type]
    return None


def text_problem(value: object, what: str) -> str | None:
    """Why ``value`` is not a string that can be stored (UTF-8, no NUL)."""
    if not isinstance(value, str):
        return f"{what} {short_repr(value)} is not a string"
    if not utf8_ok(value):
        return f"{what} {display_text(value)!r} is not valid UTF-8"
    if "\x00" in value:
        return f"{what} {display_text(value)!r} contains a NUL character"
    return None


def value_problem(value: object, what: str, max_depth: int = MAX_DEPTH) -> str | None:
    """Why a pass-through JSON value cannot be stored as-is: nested deeper than ``max_depth``, a
    NaN or infinite number, or a string that is not UTF-8. Iterative: no recursion to exhaust."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if depth > max_depth:
            return f"{what} is nested deeper than {max_depth} levels"
        if isinstance(v, float) and not math.isfinite(v):
            return f"{what} holds the number {v}; expected finite numbers"
        if isinstance(v, str) and not utf8_ok(v):
            return f"{what} holds a string that is not valid UTF-8"
        if isinstance(v, dict):
            for k, item in v.items():
                if not isinstance(k, str) or not utf8_ok(k):
                    return f"{what} has a key that is not a UTF-8 string"
                stack.append((item, depth + 1))
        elif isinstance(v, list | tuple):
            stack.extend((item, depth + 1) for item in v)
    return None


def utf8_ok(text: str) -> bool:
    """True if ``text`` encodes to UTF-8 (False for lone surrogates: JSON escapes, bad file names)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def display_text(text: str) -> str:
    """``text`` with lone surrogates shown as escapes, safe to print and store."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def outside_root(name: str, root: Path) -> bool:
    """True if the relative path ``name`` (from an annotation file) leaves ``root``: it is absolute,
    or its ``..`` parts climb out. Decided on the text alone, so the answer never depends on
    whether some file outside the root exists."""
    if os.path.isabs(name) or name.startswith("\\") or _DRIVE.match(name):  # "C:\\x", "\\\\server"
        return True
    joined = os.path.normpath(os.path.join("root", name))
    return joined != "root" and not joined.startswith("root" + os.sep)


def is_within(path: Path, root: Path) -> bool:
    """True if ``path`` with every symlink resolved lies inside ``root`` (also resolved)."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _parse_int(text: str) -> int | float:
    return int(text) if len(text.lstrip("-")) <= _MAX_INT_DIGITS else math.inf


def load_json(path: Path, what: str = "JSON file") -> object:
    """Parse a JSON annotation file; `InvalidInputError` names the file and the problem.

    Only a regular file of at most `MAX_ANNOTATION_BYTES` is read (a FIFO or ``/dev/zero`` is
    refused). Nesting too deep for the parser, integers of thousands of digits and bad UTF-8 are
    clear errors; ``NaN`` and ``Infinity`` parse (as Python does) and are refused per record by
    the checks above.
    """
    path = Path(path)
    name = display_path(path)
    if not os.path.lexists(path):
        raise InvalidInputError(f"{name}: {what} not found")
    data = read_image_bytes(path, ImageLimits(max_bytes=MAX_ANNOTATION_BYTES), allow_empty=True)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{name}: not a text JSON file ({exc.reason} at byte {exc.start})") from exc
    try:
        return json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except RecursionError as exc:
        raise InvalidInputError(f"{name}: not usable JSON (nested too deeply to parse)") from exc
    except (ValueError, MemoryError) as exc:
        raise InvalidInputError(f"{name}: not usable JSON ({type(exc).__name__}: {exc})") from exc


def short_repr(value: object, limit: int = 60) -> str:
    """A short printable ``repr`` of an untrusted value (never the whole 10 MB list)."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<{type(value).__name__} nested too deeply>"
    text = display_text(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
