"""Special files among real photos: FIFOs, links to /dev/zero, names that are not UTF-8, folders
that cannot be listed, HEIC/AVIF. None may hang, exhaust memory or lose the good photos; each is
listed as skipped with its reason, and the result can be stored."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.ingest.ccp import read_ccp
from fashionlens.ingest.coco import read_coco
from fashionlens.ingest.deepfashion2 import read_deepfashion2
from fashionlens.ingest.folder import read_folder
from fashionlens.ingest.images import unsupported_reason
from fashionlens.ingest.products import read_products
from fashionlens.ingest.video import probe_video, read_video
from fashionlens.store.catalog import Catalog

sys.path.insert(0, str(Path(__file__).parent))
import make_inputs as mk

LIMIT_S = 20  # a blocked open() of a FIFO would never return; anything that returns is fine


@contextlib.contextmanager
def deadline(seconds: float = LIMIT_S) -> Iterator[None]:
    """Fail (instead of hanging the suite) if the block is still running after ``seconds``."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: something blocked")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder with three real photos."""
    root = tmp_path / "photos"
    root.mkdir()
    for n in (1, 2, 3):
        (root / f"{n}.jpg").write_bytes(mk.real_photo(n))
    return root


def _reasons(result: object) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in result.skipped}  # type: ignore[attr-defined]


def test_fifo_named_jpg_does_not_hang_folder_ingest(photos: Path) -> None:
    mk.make_fifo(photos / "pipe.jpg")
    with deadline():
        result = read_folder(photos, source="street")
    assert len(result.images) == 3
    assert _reasons(result)["pipe.jpg"] == "not a regular file (FIFO, device or socket)"


def test_fifo_annotation_files_do_not_hang(tmp_path: Path) -> None:
    """A FIFO where styles.csv, a DeepFashion2 .json, a CCP .mat, a COCO .json or a video is expected."""
    products = tmp_path / "products"
    (products / "images").mkdir(parents=True)
    mk.make_fifo(products / "styles.csv")
    df2 = tmp_path / "df2"
    (df2 / "image").mkdir(parents=True)
    (df2 / "annos").mkdir()
    (df2 / "image" / "000001.jpg").write_bytes(mk.real_photo(1))
    mk.make_fifo(df2 / "annos" / "000001.json")
    ccp = tmp_path / "ccp"
    (ccp / "photos").mkdir(parents=True)
    (ccp / "annotations" / "image-level").mkdir(parents=True)
    shutil.copy(mk.SHARED / "ccp" / "label_list.mat", ccp / "label_list.mat")
    (ccp / "photos" / "0001.jpg").write_bytes(mk.real_photo(1))
    mk.make_fifo(ccp / "annotations" / "image-level" / "0001.mat")
    with deadline():
        with pytest.raises(InvalidInputError, match=r"styles\.csv: not a regular file"):
            read_products(products)
        result = read_deepfashion2(df2)
        assert _reasons(result) == {"000001.json": "not a regular file (FIFO, device or socket)"}
        result = read_ccp(ccp)
        assert len(result.images) == 1 and not result.labels
        assert _reasons(result)["0001.mat"] == "not a regular file (FIFO, device or socket)"
        with pytest.raises(InvalidInputError, match=r"ann\.json: not a regular file"):
            read_coco(mk.make_fifo(tmp_path / "ann.json"), source="street", dataset="x")
        with pytest.raises(InvalidInputError, match=r"clip\.mp4: not a regular file"):
            probe_video(mk.make_fifo(tmp_path / "clip.mp4"))


def test_links_to_dev_zero_are_refused(photos: Path, tmp_path: Path) -> None:
    mk.link_to_dev_zero(photos / "zero.jpg")
    with deadline():
        result = read_folder(photos, source="street")
        assert len(result.images) == 3
        assert _reasons(result)["zero.jpg"].startswith("symlink to a file outside the folder")
        followed = read_folder(photos, source="street", allow_outside_root=True)
        assert _reasons(followed)["zero.jpg"] == "not a regular file (FIFO, device or socket)"
        products = tmp_path / "products"
        (products / "images").mkdir(parents=True)
        mk.link_to_dev_zero(products / "styles.csv")
        with pytest.raises(InvalidInputError, match="not a regular file"):
            read_products(products)
        with pytest.raises(InvalidInputError, match="not a regular file"):
            read_video(mk.link_to_dev_zero(tmp_path / "zero.mp4"), tmp_path / "frames")


def test_name_that_is_not_utf8_is_skipped_and_the_folder_stored(photos: Path, tmp_path: Path) -> None:
    bad = mk.non_utf8_name(photos)
    bad.write_bytes(mk.real_photo(4))
    result = read_folder(photos, source="street")
    assert len(result.images) == 3
    (skipped,) = result.skipped
    assert skipped.path.endswith("caf\\xe9.jpg")  # printable: the raw byte shown as an escape
    assert "file name is not valid UTF-8" in skipped.reason and "rename" in skipped.reason
    catalog = Catalog(tmp_path / "db")
    catalog.add_ingest(result)  # no UnicodeEncodeError: nothing unstorable reached the store
    assert catalog.count("images") == 3
    skipped.path.encode("utf-8")
    skipped.reason.encode("utf-8")


def test_folder_named_not_utf8_gives_a_storable_dataset_name(tmp_path: Path) -> None:
    root = mk.non_utf8_name(tmp_path, b"fotos-\xe9t\xe9", b"")
    root.mkdir()
    (root / "a.jpg").write_bytes(mk.real_photo(1))
    result = read_folder(root, source="street", dataset="mine")
    assert result.images == [] and "not valid UTF-8" in result.skipped[0].reason
    (root / "a.jpg").unlink()
    with pytest.raises(InvalidInputError, match=r"fotos-\\xe9t\\xe9: no image files") as info:
        read_folder(root, source="street")
    str(info.value).encode("utf-8")  # printable


def _deep_folder(root: Path, levels: int = 20) -> None:
    """A chain of folders deeper than PATH_MAX with a photo at the bottom: listing it fails even
    for root (ENAMETOOLONG), like a folder without read permission fails for a user."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            os.mkdir("d" * 240, dir_fd=fd)
            sub = os.open("d" * 240, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = sub
        out = os.open("deep.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, mk.real_photo(4))
        os.close(out)
    finally:
        os.close(fd)


def test_folder_that_cannot_be_listed_is_reported(photos: Path) -> None:
    _deep_folder(photos)
    result = read_folder(photos, source="street")
    assert len(result.images) == 3
    (skipped,) = result.skipped
    assert skipped.reason == "cannot list this folder (File name too long); its files were not read"
    shutil.rmtree(photos / ("d" * 240))


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: chmod 000 does not block root")
def test_unreadable_sub_folder_is_reported(photos: Path) -> None:
    locked = photos / "locked"
    locked.mkdir()
    (locked / "x.jpg").write_bytes(mk.real_photo(4))
    locked.chmod(0)
    try:
        result = read_folder(photos, source="street")
    finally:
        locked.chmod(0o755)
    assert len(result.images) == 3
    assert (
        _reasons(result)["locked"] == "cannot list this folder (Permission denied); its files were not read"
    )


def test_heic_heif_avif_are_listed_with_the_reason(photos: Path) -> None:
    photo = mk.real_photo(4)
    for name in ("phone.heic", "phone.HEIF", "x.jxl"):
        (photos / name).write_bytes(photo)  # the extension decides: listed, never decoded
    avif_supported = unsupported_reason(Path("x.avif")) is None
    (photos / "phone.avif").write_bytes(mk.avif(photo) if avif_supported else photo)
    result = read_folder(photos, source="street")
    reasons = _reasons(result)
    assert reasons["phone.heic"] == "HEIC images are not supported by this install (convert to JPEG or PNG)"
    assert reasons["phone.HEIF"].startswith("HEIF images are not supported")
    assert reasons["x.jxl"].startswith("JPEG XL images are not supported")
    if avif_supported:  # this Pillow decodes AVIF: stored like any photo
        assert "phone.avif" in {Path(r.image_path).name for r in result.images}
        assert len(result.images) == 4
    else:
        assert reasons["phone.avif"].startswith("AVIF images are not supported")
        assert len(result.images) == 3


def test_annotation_json_nested_too_deep_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ann.json"
    path.write_text(mk.nested_json(200_000))
    with pytest.raises(InvalidInputError, match=r"ann\.json: not usable JSON \(nested too deeply"):
        read_coco(path, source="street", dataset="x")
    df2 = tmp_path / "df2"
    (df2 / "image").mkdir(parents=True)
    (df2 / "annos").mkdir()
    (df2 / "image" / "000001.jpg").write_bytes(mk.real_photo(1))
    (df2 / "annos" / "000001.json").write_text('{"item1": ' + mk.nested_json(200_000) + "}")
    (df2 / "image" / "000002.jpg").write_bytes(mk.real_photo(2))
    item = {"category_id": 1, "bounding_box": [1, 2, 11, 22]}
    (df2 / "annos" / "000002.json").write_text(json.dumps({"item1": item}))
    result = read_deepfashion2(df2)
    assert len(result.images) == 1
    assert "nested too deeply" in _reasons(result)["000001.json"]
