"""CCP .mat parsing on tiny hand-made MAT files (scipy.io.savemat)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from fashionlens.core.errors import InvalidInputError
from fashionlens.ingest.ccp import ccp_label_names, load_ccp_mask, read_ccp_labels

NAMES = ("null", "bag", "dress", "skin", *(f"label{i}" for i in range(4, 59)))


def save(tmp_path: Path, name: str, **variables: object) -> Path:
    path = tmp_path / name
    savemat(str(path), variables)
    return path


def test_label_list_round_trip(tmp_path: Path) -> None:
    cells = np.empty((1, 59), dtype=object)
    cells[0, :] = list(NAMES)
    save(tmp_path, "label_list.mat", label_list=cells)
    assert ccp_label_names(tmp_path) == NAMES


def test_label_list_wrong_length(tmp_path: Path) -> None:
    cells = np.empty((1, 3), dtype=object)
    cells[0, :] = ["null", "a", "b"]
    save(tmp_path, "label_list.mat", label_list=cells)
    with pytest.raises(InvalidInputError, match="expected 59 label names; got 3"):
        ccp_label_names(tmp_path)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"groundtruth": np.array([[0, 3, 3], [2, 0, 1]], dtype=np.uint8)}, ("bag", "dress", "skin")),
        ({"groundtruth": np.zeros((2, 2), dtype=np.uint8)}, ()),
        ({"groundtruth": np.array([[2.0, 0.0]])}, ("dress",)),  # double maps are fine if whole
        ({"tags": np.array([[0], [2], [1]], dtype=np.uint8)}, ("bag", "dress")),  # n x 1
        ({"tags": np.array([[3, 2, 2]], dtype=np.uint8)}, ("dress", "skin")),  # 1 x n, as in the real files
        ({"tags": np.zeros((0, 1), dtype=np.uint8)}, ()),
    ],
    ids=["pixel", "pixel-background", "pixel-double", "tags-column", "tags-row", "tags-empty"],
)
def test_read_ccp_labels(tmp_path: Path, variables: dict, expected: tuple[str, ...]) -> None:
    path = save(tmp_path, "0001.mat", **variables)
    assert read_ccp_labels(path, NAMES) == expected


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"groundtruth": np.array([[0, 59]], dtype=np.uint8)}, "label index out of range: got 0..59"),
        ({"tags": np.array([[1], [200]], dtype=np.uint8)}, "label index out of range"),
        ({"tags": np.array([[-1]], dtype=np.int16)}, "label index out of range"),
        ({"tags": np.array([[1.5]])}, "whole numbers"),
        ({"groundtruth": np.zeros((2, 2, 2), dtype=np.uint8)}, "2-D (h, w)"),
        ({"other": np.array([1])}, "no variable 'groundtruth' or 'tags' (found other)"),
    ],
    ids=["pixel-59", "tags-200", "negative", "fractional", "not-2d", "no-variable"],
)
def test_bad_annotation_raises_naming_file(tmp_path: Path, variables: dict, message: str) -> None:
    path = save(tmp_path, "0001.mat", **variables)
    with pytest.raises(InvalidInputError) as info:
        read_ccp_labels(path, NAMES)
    assert str(path) in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a MAT file", b"MATLAB 5.0 MAT-file" + b"\x00" * 50],
    ids=["empty", "text", "cut"],
)
def test_not_a_mat_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "0001.mat"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError) as info:
        read_ccp_labels(path, NAMES)
    assert str(path) in str(info.value)
    assert "not a readable MAT file" in str(info.value)


def test_label_names_default_needs_dataset_layout(tmp_path: Path) -> None:
    path = save(tmp_path, "0001.mat", tags=np.array([[1]], dtype=np.uint8))
    with pytest.raises(InvalidInputError, match="pass label_names"):
        read_ccp_labels(path)


def test_load_ccp_mask(tmp_path: Path) -> None:
    gt = np.array([[0, 3, 3], [2, 0, 58]], dtype=np.uint8)
    mask = load_ccp_mask(save(tmp_path, "m.mat", groundtruth=gt))
    assert mask.dtype == np.uint8 and mask.shape == (2, 3)
    np.testing.assert_array_equal(mask, gt)
    with pytest.raises(InvalidInputError, match="no variable 'groundtruth' \\(found tags\\)"):
        load_ccp_mask(save(tmp_path, "t.mat", tags=np.array([[1]])))
