"""The checks on untrusted annotation values (`fashionlens.ingest.records`), table-driven."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.ingest.coco import peek_coco
from fashionlens.ingest.records import (
    coordinate_problem,
    display_text,
    is_within,
    load_json,
    number,
    outside_root,
    polygons_problem,
    short_repr,
    text_problem,
    value_problem,
)

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3.0), (2.5, 2.5), (-1, -1.0), (0, 0.0),
        (True, None), (False, None), (NAN, None), (INF, None), (-INF, None),
        ("3", None), ([3], None), (None, None), ({"v": 1}, None), (10**400, None),
    ],
)  # fmt: skip
def test_number(value: object, expected: float | None) -> None:
    assert number(value) == expected


@pytest.mark.parametrize(
    ("polygons", "problem"),
    [
        ([[0, 0, 10, 0, 10, 10]], None),
        ([[0.5, 0, 10, 0, 10, 10, 0, 10]], None),
        ([], None),
        ("0,0,10,0,10,10", "is not a list of polygons"),
        ({"counts": "x"}, "is not a list of polygons"),
        ([[0, 0, 10, 0, 10]], "odd number of values (5)"),
        ([[0, 0, 10, 0]], "has 2 points; a polygon needs 3"),
        ([[0, NAN, 10, 0, 10, 10]], "has the value nan"),
        ([[0, 0, INF, 0, 10, 10]], "has the value inf"),
        ([[0, 0, 1e308, 0, 10, 10]], "beyond +-1000000 pixels"),
        ([[True, 0, 10, 0, 10, 10]], "has the value True"),
        ([["0", 0, 10, 0, 10, 10]], "has the value '0'"),
        ([[[0, 0], [10, 0], [10, 10]]], "has the value [0, 0]"),
        ([5], "polygon 0 5 is not a list of numbers"),
        ([[0, 0, 10, 0, 10, 10], [1, 2, 3]], "polygon 1 has an odd number"),
    ],
)
def test_polygons_problem(polygons: object, problem: str | None) -> None:
    got = polygons_problem(polygons)
    assert got == problem if problem is None else problem in (got or ""), got


def test_coordinate_problem_bounds() -> None:
    assert coordinate_problem([0, -999_999, 1_000_000], "box") is None
    assert "beyond" in (coordinate_problem([1_000_001], "box") or "")


@pytest.mark.parametrize(
    ("name", "outside"),
    [
        ("a.jpg", False), ("sub/a.jpg", False), ("sub/../a.jpg", False), ("./a.jpg", False),
        ("a..b.jpg", False), ("..a.jpg", False),
        ("../a.jpg", True), ("sub/../../a.jpg", True), ("/etc/passwd", True), ("//etc/passwd", True),
        ("~draft.jpg", False), ("x:1.jpg", False),
        ("..", True), ("sub/../..", True), ("C:\\Windows\\x.jpg", True), ("c:/x.jpg", True),
        ("\\\\server\\share\\x.jpg", True),
    ],
)  # fmt: skip
def test_outside_root_is_decided_on_the_text(name: str, outside: bool, tmp_path: Path) -> None:
    assert outside_root(name, tmp_path) is outside
    assert outside_root(name, tmp_path / "missing" / "folder") is outside  # the disk is not consulted


def test_is_within_resolves_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "in").symlink_to(root / "sub")
    (root / "out").symlink_to(tmp_path)
    assert is_within(root / "in" / "x.jpg", root)
    assert not is_within(root / "out" / "x.jpg", root)
    assert not is_within(tmp_path / "rootx" / "a.jpg", root)  # a prefix is not a parent


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": [1, 2.5, "x", None, True]}, None),
        (_nested(32), None),
        (_nested(33), "nested deeper than 32 levels"),
        (_nested(100_000), "nested deeper than 32 levels"),  # iterative: no RecursionError
        ([1, NAN], "holds the number nan"),
        ({"k": {"j": -INF}}, "holds the number -inf"),
        (["caf\udce9"], "not valid UTF-8"),
        ({"caf\udce9": 1}, "has a key that is not a UTF-8 string"),
    ],
)
def test_value_problem(value: object, problem: str | None) -> None:
    got = value_problem(value, "attr")
    assert got == problem if problem is None else problem in (got or ""), got


@pytest.mark.parametrize(
    ("value", "problem"),
    [("ok.jpg", None), (5, "is not a string"), ("a\x00b", "contains a NUL"), ("\udce9", "not valid UTF-8")],
)
def test_text_problem(value: object, problem: str | None) -> None:
    got = text_problem(value, "file_name")
    assert got == problem if problem is None else problem in (got or "")


def test_short_repr_and_display_text_never_raise() -> None:
    assert short_repr("x" * 1000).endswith("...") and len(short_repr("x" * 1000)) == 60
    assert "nested too deeply" in short_repr(_nested(100_000))
    display_text("caf\udce9").encode("utf-8")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"not valid JSON \(Expecting property name"),
        ("[" * 100_000 + "]" * 100_000, r"not usable JSON \(nested too deeply"),
        ("", r"not valid JSON \(Expecting value"),
    ],
)
def test_load_json_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InvalidInputError, match=rf"bad\.json: {message}"):
        load_json(path)


def test_load_json_numbers(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    path.write_text('{"big": ' + "9" * 5000 + ', "nan": NaN, "inf": 1e400, "ok": 12}')
    data = load_json(path)
    assert isinstance(data, dict)
    assert data["big"] == INF and math.isnan(data["nan"]) and data["inf"] == INF and data["ok"] == 12
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"a": 1}).encode())
    assert load_json(tmp_path / "bom.json") == {"a": 1}
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidInputError, match=r"bin\.json: not a text JSON file"):
        load_json(tmp_path / "bin.json")
    with pytest.raises(InvalidInputError, match=r"missing\.json: JSON file not found"):
        load_json(tmp_path / "missing.json")
    with pytest.raises(InvalidInputError, match=r": a directory"):
        load_json(tmp_path)


def test_peek_coco_never_raises(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "ok.json").write_text('{"images": []}')
    os.mkfifo(tmp_path / "pipe.json")
    assert peek_coco(tmp_path / "deep.json") is None
    assert peek_coco(tmp_path / "list.json") is None
    assert peek_coco(tmp_path / "pipe.json") is None  # refused, not waited on
    assert peek_coco(tmp_path / "missing.json") is None
    assert peek_coco(tmp_path / "ok.json") == {"images": []}
