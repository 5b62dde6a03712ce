"""Hostile video files: a truncated clip is read up to where it breaks, and the break is in the
result's ``skipped`` (the run's summary), not only in a -v log line; special files never reach FFmpeg."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.ingest.video import probe_video, read_video, read_video_frames

sys.path.insert(0, str(Path(__file__).parent))
import make_inputs as mk

pytest.importorskip("cv2")


def test_truncated_video_is_in_the_summary(tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(mk.video_head(200_000))  # the first 6% of the real clip
    result = read_video(cut, tmp_path / "frames", every=30)
    assert [Path(r.image_path).name for r in result.images] == [f"frame_{i:06d}.jpg" for i in (0, 30, 60)]
    (entry,) = result.skipped
    assert entry.path == str(cut)
    assert entry.reason == (
        "truncated: the stream ended at frame 76 of the 1394 announced; frames 76-1393 not read"
    )


def test_frames_reader_reports_the_break_to_its_caller(tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(mk.video_head(200_000))
    ends: list[tuple[int, int]] = []
    frames = list(read_video_frames(cut, every=50, on_truncated=lambda n, m: ends.append((n, m))))
    assert [f.frame_index for f in frames] == [0, 50] and ends == [(76, 1394)]
    whole = next((mk.SHARED / "video").glob("*.mp4"))
    assert not [e for e in ends if e[0] > 76]
    ends.clear()
    assert len(list(read_video_frames(whole, every=500, on_truncated=lambda n, m: ends.append((n, m))))) == 3
    assert ends == []  # the whole clip: nothing to report


def test_video_name_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    """OpenCV segfaults on such a name (measured with opencv-python-headless 4.14): never pass it."""
    path = mk.non_utf8_name(tmp_path, b"clip-\xe9", b".mp4")
    path.write_bytes(mk.video_head(200_000))
    with pytest.raises(InvalidInputError, match=r"clip-\\xe9\.mp4: the file name is not valid UTF-8") as info:
        probe_video(path)
    str(info.value).encode("utf-8")  # printable
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        read_video(path, tmp_path / "frames")


def test_relative_name_that_looks_like_a_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``http:clip.mp4`` in the current folder is a file, not a URL for FFmpeg."""
    monkeypatch.chdir(tmp_path)
    Path("http:clip.mp4").write_bytes(mk.video_head(200_000))
    assert probe_video(Path("http:clip.mp4")).frame_count == 1394


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
def test_special_files_never_reach_ffmpeg(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "clip.mp4"
    if kind == "fifo":
        mk.make_fifo(path)
    elif kind == "dev-zero":
        mk.link_to_dev_zero(path)
    else:
        path.mkdir()
    message = "is a folder" if kind == "folder" else "not a regular file"
    with pytest.raises(InvalidInputError, match=message):
        probe_video(path)
    with pytest.raises(InvalidInputError, match=message):
        next(read_video_frames(path))
