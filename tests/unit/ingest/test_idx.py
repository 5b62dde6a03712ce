"""The idx parser on hand-built files, and the Fashion-MNIST subset writer on a tiny fake dataset."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionlens.core.errors import InvalidInputError
from fashionlens.ingest.fashion_mnist import (
    ENV_VAR,
    class_slug,
    find_fashion_mnist,
    read_fashion_mnist,
    read_idx,
    select_balanced,
)


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    big = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + big.tobytes()


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize(
    ("array", "type_code"),
    [
        (np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4), 0x08),
        (np.array([0, 9, 3, 255], dtype=np.uint8), 0x08),
        (np.array([[-1, 2], [3, -128]], dtype=np.int8), 0x09),
        (np.array([1, -2, 300], dtype=np.int16), 0x0B),
        (np.array([[70000, -5]], dtype=np.int32), 0x0C),
        (np.array([1.5, -2.25], dtype=np.float32), 0x0D),
        (np.array([[1e300]], dtype=np.float64), 0x0E),
    ],
    ids=["u8-3d", "u8-1d", "i8", "i16", "i32", "f32", "f64"],
)
def test_read_idx_round_trip(tmp_path: Path, array: np.ndarray, type_code: int, compress: bool) -> None:
    data = idx_bytes(array, type_code)
    path = tmp_path / "x-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    got = read_idx(path)
    assert got.shape == array.shape
    assert got.dtype == array.dtype  # native byte order, not big-endian
    np.testing.assert_array_equal(got, array)
    got.flat[0] = got.flat[0]  # writable copy, not a view of the read-only buffer


GOOD = idx_bytes(np.zeros((2, 2), dtype=np.uint8))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (b"\x00\x00", "too short"),
        (b"\x01\x00" + GOOD[2:], "not an idx file"),
        (b"\x00\x00\x07\x02" + GOOD[4:], "unknown idx type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated idx header"),
        (GOOD[:-1], "payload is 3 bytes"),
        (GOOD + b"\x00", "payload is 5 bytes"),
        (b"\x1f\x8bnot really gzip", "corrupt gzip"),
        (gzip.compress(GOOD)[:-6], "corrupt gzip"),
    ],
    ids=[
        "empty",
        "short",
        "magic",
        "type",
        "ndim0",
        "header",
        "short-payload",
        "long-payload",
        "gz",
        "gz-cut",
    ],
)
def test_read_idx_rejects_bad_files(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(InvalidInputError) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_read_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="file not found"):
        read_idx(tmp_path / "nope")


@pytest.mark.parametrize(
    ("name", "slug"),
    [("T-shirt/top", "t-shirt-top"), ("Ankle boot", "ankle-boot"), ("Bag", "bag"), (" A  B ", "a-b")],
)
def test_class_slug(name: str, slug: str) -> None:
    assert class_slug(name) == slug


def test_select_balanced_takes_first_per_class_in_order() -> None:
    labels = np.array([1, 0, 1, 1, 0, 2, 0])
    assert select_balanced(labels, 2, 3) == [0, 1, 2, 4, 5]
    assert select_balanced(labels, 1, 3) == [0, 1, 5]


def make_fake_fashion_mnist(root: Path, n_per_class: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A 10-class dataset; train image i is filled with value i, test image i with 100 + i."""
    root.mkdir(parents=True, exist_ok=True)
    labels = np.tile(np.arange(10, dtype=np.uint8), n_per_class)
    images = np.stack([np.full((4, 5), i, dtype=np.uint8) for i in range(len(labels))])
    for prefix, offset in (("train", 0), ("t10k", 100)):
        data = idx_bytes(images + np.uint8(offset))
        (root / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(data))
        (root / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))  # raw works too
    return images, labels


def test_find_fashion_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "train-images-idx3-ubyte.gz").write_bytes(b"")
    fake = tmp_path / "fake"
    make_fake_fashion_mnist(fake)
    assert find_fashion_mnist([tmp_path / "missing", incomplete]) is None
    assert find_fashion_mnist([incomplete, str(fake)]) == fake
    monkeypatch.setenv(ENV_VAR, str(fake))
    assert find_fashion_mnist() == fake
    monkeypatch.setenv(ENV_VAR, str(fake / "train-labels-idx1-ubyte"))  # a file: use its folder
    assert find_fashion_mnist() == fake


def test_read_fashion_mnist_writes_balanced_subset(tmp_path: Path) -> None:
    images, _ = make_fake_fashion_mnist(tmp_path / "fm")
    out = tmp_path / "out"
    result = read_fashion_mnist(tmp_path / "fm", out, per_class=2, splits=("test",))
    assert len(result.images) == 20 and not result.skipped
    assert {r.split for r in result.images} == {"test"}
    assert {r.source for r in result.images} == {"product"}
    assert {r.original_dataset for r in result.images} == {"fashion-mnist"}
    # first two of each class: indices 0..19 in this layout
    for record, label in zip(result.images, result.labels, strict=True):
        assert record.image_id == label.image_id
        index = int(Path(label.image_filename).stem)
        assert index < 20
        assert label.image_filename.startswith(f"test/{class_slug(label.attributes['label'])}/")
        with Image.open(record.image_path) as im:
            np.testing.assert_array_equal(np.asarray(im), images[index] + 100)
        assert (record.width, record.height) == (5, 4)
    by_class = {lab.attributes["label"] for lab in result.labels}
    assert len(by_class) == 10


def test_read_fashion_mnist_is_idempotent(tmp_path: Path) -> None:
    make_fake_fashion_mnist(tmp_path / "fm")
    out = tmp_path / "out"
    first = read_fashion_mnist(tmp_path / "fm", out, per_class=1)
    files = sorted(out.rglob("*.png"))
    assert len(files) == 20  # 10 classes x 2 splits
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    # corrupt one file: it alone must be rewritten
    files[0].write_bytes(b"junk")
    mtimes.pop(files[0])
    second = read_fashion_mnist(tmp_path / "fm", out, per_class=1)
    assert second.images == first.images and second.labels == first.labels
    assert {f: f.stat().st_mtime_ns for f in files[1:]} == mtimes
    assert files[0].read_bytes() != b"junk"
    assert not list(out.rglob("*.tmp"))


def test_duplicate_pixels_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "fm"
    root.mkdir()
    labels = np.array([0, 0, 1], dtype=np.uint8)
    images = np.zeros((3, 2, 2), dtype=np.uint8)  # all identical
    for prefix in ("train", "t10k"):
        (root / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(images))
        (root / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    result = read_fashion_mnist(root, tmp_path / "out", per_class=2, splits=("train",))
    assert len(result.images) == 1
    assert len(result.skipped) == 2
    assert all("same pixels as train/t-shirt-top/00000.png" in s.reason for s in result.skipped)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"per_class": 0}, "per_class must be >= 1"),
        ({"splits": ("train", "valid")}, "splits must be among train, test; got valid"),
    ],
)
def test_read_fashion_mnist_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    make_fake_fashion_mnist(tmp_path / "fm")
    with pytest.raises(InvalidInputError, match=message):
        read_fashion_mnist(tmp_path / "fm", tmp_path / "out", **kwargs)


def test_missing_dataset_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInputError) as info:
        read_fashion_mnist(empty, tmp_path / "out")
    assert "apt-get install dataset-fashion-mnist" in str(info.value)
    assert ENV_VAR in str(info.value)
    with pytest.raises(InvalidInputError, match="apt-get install dataset-fashion-mnist"):
        read_fashion_mnist(tmp_path / "does-not-exist", tmp_path / "out")
    # root=None searches the default paths; with none of them holding the files, same hint
    monkeypatch.setattr("fashionlens.ingest.fashion_mnist.SYSTEM_PATH", empty)
    monkeypatch.setenv(ENV_VAR, str(empty))
    with pytest.raises(InvalidInputError, match="apt-get install dataset-fashion-mnist"):
        read_fashion_mnist(None, tmp_path / "out")


def test_labels_out_of_range_rejected(tmp_path: Path) -> None:
    make_fake_fashion_mnist(tmp_path / "fm")
    bad = tmp_path / "fm" / "train-labels-idx1-ubyte"
    bad.write_bytes(idx_bytes(np.full(30, 10, dtype=np.uint8)))
    with pytest.raises(InvalidInputError, match=r"labels must be in 0\.\.9"):
        read_fashion_mnist(tmp_path / "fm", tmp_path / "out", splits=("train",))
