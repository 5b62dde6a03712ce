from __future__ import annotations

from pathlib import Path

import pytest

from fashionlens.jobs.run import parse_source_path


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("runway=shows/a.json", ("runway", Path("shows/a.json"))),
        ("street=/data/ccp", ("street", Path("/data/ccp"))),
        ("/data/ccp", (None, Path("/data/ccp"))),
        ("catwalk=x", (None, Path("catwalk=x"))),
        ("a=b/c=d", (None, Path("a=b/c=d"))),
        ("runway=", (None, Path("runway="))),
    ],
)
def test_parse_source_path(spec: str, expected: tuple[str | None, Path]) -> None:
    assert parse_source_path(spec) == expected
