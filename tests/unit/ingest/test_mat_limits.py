"""CCP .mat files are checked before scipy allocates: inflated size and variable shapes."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from fashionlens.core.errors import InvalidInputError
from fashionlens.ingest.base import reading_limits
from fashionlens.ingest.ccp import _check_inflated_size, load_ccp_mask, max_mat_bytes
from fashionlens.ingest.images import ImageLimits


def _mat(array: np.ndarray, compress: bool = True) -> bytes:
    buf = io.BytesIO()
    savemat(buf, {"groundtruth": array}, do_compression=compress)
    return buf.getvalue()


def _lying_dims(data: bytes, dims: tuple[int, int]) -> bytes:
    """Re-pack the one compressed variable with its dimensions rewritten to ``dims``: the header
    says 10 x 10 while the payload still inflates to the full array (a zip bomb for scipy)."""
    mdtype, nbytes = struct.unpack_from("<II", data, 128)
    assert mdtype == 15
    inner = bytearray(zlib.decompress(data[136 : 136 + nbytes]))
    # miMATRIX tag (8) + array flags (16) + dims tag (8) -> the two int32 dimensions
    struct.pack_into("<ii", inner, 8 + 16 + 8, *dims)
    packed = zlib.compress(bytes(inner))
    return data[:128] + struct.pack("<II", 15, len(packed)) + packed


def test_small_real_shaped_map_passes(tmp_path: Path) -> None:
    path = tmp_path / "ok.mat"
    path.write_bytes(_mat(np.ones((83, 55), dtype=np.uint8)))
    assert load_ccp_mask(path).shape == (83, 55)


def test_inflate_check_refuses_a_bomb_whose_header_lies(tmp_path: Path) -> None:
    data = _lying_dims(_mat(np.zeros((4000, 5000), dtype=np.uint8)), (10, 10))
    assert len(data) < 100_000  # 20 MB of payload in a few KB
    with pytest.raises(InvalidInputError, match="inflate past 1000 bytes"):
        _check_inflated_size(data, 1000)
    _check_inflated_size(data, 21_000_000)  # under a limit that fits it: fine
    path = tmp_path / "bomb.mat"
    path.write_bytes(data)
    limits = ImageLimits(max_pixels=100_000)
    with reading_limits(limits), pytest.raises(InvalidInputError) as info:
        load_ccp_mask(path)
    assert f"bomb.mat: refused, compressed variables inflate past {max_mat_bytes(limits)} bytes" in str(
        info.value
    )


def test_shape_over_the_pixel_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.mat"
    path.write_bytes(_mat(np.zeros((400, 300), dtype=np.uint8), compress=False))
    with reading_limits(ImageLimits(max_pixels=100_000)), pytest.raises(InvalidInputError) as info:
        load_ccp_mask(path)
    assert "variable 'groundtruth' has shape (400, 300): 120000 values, over the limit of 100000" in str(
        info.value
    )
    assert load_ccp_mask(path).shape == (400, 300)  # default limits


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"MATLAB 5.0 MAT-file".ljust(128, b" ") + b"\xff" * 7, id="header-only"),
        pytest.param(
            b"MATLAB 5.0 MAT-file".ljust(126, b" ") + b"IM" + struct.pack("<II", 15, 99) + b"junk",
            id="bad-zlib",
        ),
        pytest.param(
            b"MATLAB 5.0 MAT-file".ljust(126, b" ") + b"IM" + struct.pack("<II", 14, 2**31), id="huge-tag"
        ),
    ],
)
def test_crafted_headers_are_one_clear_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "x.mat"
    path.write_bytes(data)
    with pytest.raises(InvalidInputError, match=r"x\.mat: (not a readable MAT file|refused)"):
        load_ccp_mask(path)
