"""Paths that lead out of the dataset: folder symlinks, COCO ``file_name`` absolute or with ``..``.

Nothing outside the root is read unless the caller opts in with ``allow_outside_root=True``, and
the reason a COCO path is refused is the same whether or not the outside file exists (no oracle).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from fashionlens.ingest.coco import read_coco, read_roboflow
from fashionlens.ingest.folder import read_folder

sys.path.insert(0, str(Path(__file__).parent))
import make_inputs as mk


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """``(root, outside)``: a dataset folder with two real photos, and a folder beside it with a
    third photo that the dataset must not reach."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "a.jpg").write_bytes(mk.real_photo(1))
    (root / "sub" / "b.jpg").write_bytes(mk.real_photo(2))
    (outside / "secret.jpg").write_bytes(mk.real_photo(3))
    (outside / "more").mkdir()
    (outside / "more" / "c.jpg").write_bytes(mk.real_photo(4))
    return root, outside


def _names(result: object) -> list[str]:
    return sorted(Path(r.image_path).name for r in result.images)  # type: ignore[attr-defined]


def test_folder_does_not_follow_symlinks_out(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    (root / "link.jpg").symlink_to(outside / "secret.jpg")
    (root / "linked-dir").symlink_to(outside / "more")
    (root / "inside.jpg").symlink_to(root / "sub" / "b.jpg")  # inside the root: fine (same bytes)
    (root / "loop").symlink_to(root)
    result = read_folder(root, source="street")
    assert _names(result) == ["a.jpg", "b.jpg"]
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    hint = "not followed out of the folder (allow_outside_root=True follows it)"
    assert reasons["link.jpg"] == f"symlink to a file outside the folder; {hint}"
    assert reasons["linked-dir"] == f"symlink out of the folder; {hint}"
    assert reasons["loop"] == f"symlink to a folder inside it; {hint}"
    assert reasons["b.jpg"] == f"same bytes as {root / 'inside.jpg'}; read once"  # sub/b.jpg


def test_folder_follows_symlinks_when_asked(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    (root / "link.jpg").symlink_to(outside / "secret.jpg")
    (root / "linked-dir").symlink_to(outside / "more")
    (root / "loop").symlink_to(root)  # each real folder is walked once: the loop ends
    result = read_folder(root, source="street", allow_outside_root=True)
    assert _names(result) == ["a.jpg", "b.jpg", "c.jpg", "secret.jpg"]  # image_path is resolved


def _coco(root: Path, names: list[str]) -> Path:
    coco = {
        "images": [{"id": i, "file_name": n, "width": 550, "height": 830} for i, n in enumerate(names, 1)],
        "annotations": [
            {"id": i, "image_id": i, "category_id": 1, "bbox": [1, 2, 30, 40]}
            for i in range(1, len(names) + 1)
        ],
        "categories": [{"id": 1, "name": "dress"}],
    }
    path = root / "ann.json"
    path.write_text(json.dumps(coco))
    return path


@pytest.mark.parametrize(
    ("existing", "missing"),
    [
        pytest.param("../outside/secret.jpg", "../outside/nothing.jpg", id="dot-dot"),
        pytest.param("sub/../../outside/secret.jpg", "sub/../../outside/nothing.jpg", id="dot-dot-inside"),
        pytest.param("{outside}/secret.jpg", "{outside}/nothing.jpg", id="absolute"),
        pytest.param("../../../../../../..{outside}/secret.jpg", "../../../../../../../etc/nope", id="climb"),
    ],
)
def test_coco_file_name_is_confined_without_an_oracle(
    layout: tuple[Path, Path], existing: str, missing: str
) -> None:
    root, outside = layout
    existing, missing = existing.format(outside=outside), missing.format(outside=outside)
    path = _coco(root, ["a.jpg", "sub/../sub/b.jpg", existing, missing])
    result = read_coco(path, source="street", dataset="ds")
    assert _names(result) == ["a.jpg", "b.jpg"]  # "sub/../sub/b.jpg" stays inside: read
    assert {a.image_id for a in result.annotations} == {r.image_id for r in result.images}
    reasons = [s.reason for s in result.skipped if s.path == str(path)]
    assert len(reasons) == 2
    shapes = {
        r.replace(repr(existing), "NAME").replace(repr(missing), "NAME").split(":", 1)[1] for r in reasons
    }
    assert shapes == {
        " file_name NAME is outside the images folder; not read (allow_outside_root=True reads it); "
        "its 1 annotations left out"
    }  # the same words whether the outside file exists or not
    assert not [s for s in result.skipped if "not on disk" in s.reason]

    opted_in = read_coco(path, source="street", dataset="ds", allow_outside_root=True)
    assert "secret.jpg" in _names(opted_in)


def test_roboflow_file_name_is_confined(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    (root / "train").mkdir()
    (root / "train" / "a.jpg").write_bytes(mk.real_photo(1))
    json_path = _coco(root / "train", ["a.jpg", str(outside / "secret.jpg")])
    json_path.rename(root / "train" / "_annotations.coco.json")
    result = read_roboflow(root)
    assert _names(result) == ["a.jpg"]
    assert any("is outside the images folder" in s.reason for s in result.skipped)
    assert _names(read_roboflow(root, allow_outside_root=True)) == ["a.jpg", "secret.jpg"]


def test_coco_does_not_follow_symlinks_out(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    (root / "link.jpg").symlink_to(outside / "secret.jpg")
    (root / "linked-dir").symlink_to(outside / "more")
    (root / "inner.jpg").symlink_to(root / "a.jpg")  # a link that stays inside is read
    path = _coco(root, ["sub/b.jpg", "link.jpg", "linked-dir/c.jpg", "inner.jpg"])
    result = read_coco(path, source="street", dataset="ds")
    assert _names(result) == ["a.jpg", "b.jpg"]  # inner.jpg is a.jpg's bytes, read where it lies
    refused = sorted(
        Path(s.path).name for s in result.skipped if "symlink out of the images folder" in s.reason
    )
    assert refused == ["c.jpg", "link.jpg"]
    opted_in = read_coco(path, source="street", dataset="ds", allow_outside_root=True)
    assert {"secret.jpg", "c.jpg"} <= set(_names(opted_in))


def test_products_do_not_follow_symlinks_out(layout: tuple[Path, Path]) -> None:
    from fashionlens.ingest.products import read_products

    root, outside = layout
    shop = root / "shop"
    (shop / "images").mkdir(parents=True)
    header = (
        "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName\n"
    )
    rows = "".join(f"{i},Men,Apparel,Topwear,Tshirts,Black,Fall,2011,Casual,p{i}\n" for i in (1, 2))
    (shop / "styles.csv").write_text(header + rows)
    (shop / "images" / "1.jpg").write_bytes(mk.real_photo(5))
    (shop / "images" / "2.jpg").symlink_to(outside / "secret.jpg")
    result = read_products(shop)
    assert [Path(r.image_path).name for r in result.images] == ["1.jpg"]
    assert any(
        s.path.endswith("2.jpg") and "symlink out of the images folder" in s.reason for s in result.skipped
    )
