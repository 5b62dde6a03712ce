"""Video -> people -> catalogue matches, on the real clip and real product photos.

The clip (768x432, 10 fps, 1,394 frames) shows one person at a time walking to a table. Sampled
every 90 frames (16 frames), by eye: frames 0, 450, 900 are empty; 90, 180, 270, 360, 540, 630, 810,
990, 1080, 1170, 1260 show one whole person; 720 is empty and 1350 shows a person walking out of
view. Boxes below were drawn by hand on frames exported with a pixel grid.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from fashionlens.cli import common
from fashionlens.cli.video import video
from fashionlens.core.errors import InvalidInputError
from fashionlens.core.progress import CountingProgress
from fashionlens.core.settings import Settings
from fashionlens.ingest.video import probe_video, read_video, read_video_frames, sampled_frame_count
from fashionlens.jobs.embed import embed_catalog
from fashionlens.jobs.ingest import ingest
from fashionlens.jobs.video import VideoReport, match_video
from fashionlens.models.registry import Backbone, create_backbone
from fashionlens.models.segmenters.person_detector import box_iou
from fashionlens.render.video import CSV_COLUMNS, write_video_report
from fashionlens.store.catalog import Catalog

EVERY, K = 90, 3
HAND_BOXES = {810: (362, 32, 495, 378), 1080: (385, 8, 520, 378)}  # measured IoU 0.93 and 0.78
EMPTY_FRAMES = (0, 450, 900)
ONE_PERSON_FRAMES = (90, 180, 270, 360, 540, 630, 810, 990, 1080, 1170, 1260)


@pytest.fixture(scope="module")
def clip(shared_data: Path) -> Path:
    return shared_data / "video" / "one-by-one-person-detection.mp4"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video_home")


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    model = create_backbone("mobilenet_v2.imagenet")
    model.setup()
    return model


@pytest.fixture(scope="module")
def catalog(shared_data: Path, home: Path, backbone: Backbone) -> Catalog:
    """100 real product photos plus 12 street photos, all embedded (so a source filter matters)."""
    settings = Settings(home=home)
    cat = Catalog(settings.db_path)
    ingest(cat, shared_data / "products", "products", settings, limit=100)
    ingest(cat, shared_data / "ccp", "ccp", settings, limit=12)
    report = embed_catalog(cat, backbone)
    assert report.embedded == 112, report.skipped
    return cat


@pytest.fixture(scope="module")
def report(catalog: Catalog, backbone: Backbone, clip: Path) -> VideoReport:
    ticks = CountingProgress()
    out = match_video(
        catalog,
        backbone,
        clip,
        every=EVERY,
        k=K,
        where="source = 'product'",
        progress=ticks,
    )
    assert ticks.starts == [16] and ticks.done == 16
    return out


def test_probe_and_frames_of_the_real_clip(clip: Path) -> None:
    info = probe_video(clip)
    assert info.size_wh == (768, 432) and info.fps == pytest.approx(10.0) and info.frame_count == 1394
    frames = list(read_video_frames(clip, every=300))
    assert [f.frame_index for f in frames] == [0, 300, 600, 900, 1200]
    assert [f.time_s for f in frames] == pytest.approx([0.0, 30.0, 60.0, 90.0, 120.0])
    assert len(frames) == sampled_frame_count(info.frame_count, 300)
    rgb = frames[0].rgb
    assert rgb.shape == (432, 768, 3) and rgb.dtype == np.uint8
    floor = rgb[350:, :, :].reshape(-1, 3).mean(axis=0)
    assert floor[0] > floor[2] + 40  # the wooden floor is orange-brown: channels are RGB, not BGR


def test_people_are_found_where_they_are(report: VideoReport) -> None:
    frames = {f.frame_index: f for f in report.frames}
    assert sorted(frames) == list(range(0, 1394, EVERY))
    for index, hand_box in HAND_BOXES.items():
        people = frames[index].people
        assert people, f"nobody detected on frame {index}"
        best = float(box_iou([p.box_xyxy for p in people], [hand_box]).max())
        assert best > 0.5, f"frame {index}: best IoU {best:.2f} with the hand-drawn box"
    for index in EMPTY_FRAMES:
        assert frames[index].people == (), f"false detection on empty frame {index}"
    one = [i for i in ONE_PERSON_FRAMES if len(frames[i].people) == 1]
    assert len(one) >= 10, f"exactly one person found on {one} of {ONE_PERSON_FRAMES}"
    assert 10 <= report.people <= 13  # measured: 11


def test_every_person_gets_k_product_matches(report: VideoReport, catalog: Catalog) -> None:
    products = catalog.read("images", where="source = 'product'", columns=["image_id", "image_path"])
    product_paths = dict(
        zip(products.column("image_id").to_pylist(), products.column("image_path").to_pylist(), strict=True)
    )
    assert report.people > 0
    for frame in report.frames:
        for person in frame.people:
            assert [m.rank for m in person.matches] == list(range(1, K + 1))
            scores = [m.score for m in person.matches]
            assert all(math.isfinite(s) and -1.0 <= s <= 1.0 for s in scores)
            assert scores == sorted(scores, reverse=True)
            for m in person.matches:
                assert product_paths.get(m.image_id) == m.image_path, "a match outside the product filter"
            x1, y1, x2, y2 = person.crop_xyxy
            assert 0 <= x1 < x2 <= 768 and 0 <= y1 < y2 <= 432
    assert report.timings.total > 0 and report.frames_per_second > 0


def test_report_files(report: VideoReport, tmp_path: Path) -> None:
    files = write_video_report(report, tmp_path / "out")
    assert files.json_path.is_file() and files.csv_path.is_file()
    assert len(files.frame_pngs) == len(report.frames) == 16
    with files.csv_path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    assert len(rows) == report.people * K
    first = rows[0]
    assert len(json.loads(first["box_xyxy"])) == 4 and math.isfinite(float(first["score"]))
    assert Path(first["image_path"]).is_file()
    data = json.loads(files.json_path.read_text())
    assert data["sampled_frames"] == 16 and data["people"] == report.people
    assert set(data["timings_s"]) == {"decode", "detect", "embed", "search", "total"}
    with Image.open(tmp_path / "out" / "frame_000810.png") as png:
        assert png.width >= 768 and png.height > 432 + 150  # the frame plus one person row


@pytest.mark.parametrize("kind", ["zero-length", "text", "missing", "folder"])
def test_bad_video_files_name_the_file(
    kind: str, tmp_path: Path, catalog: Catalog, backbone: Backbone
) -> None:
    path = tmp_path / "clip.mp4"
    if kind == "zero-length":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n" * 50)
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(InvalidInputError, match=str(path)):
        probe_video(path)
    with pytest.raises(InvalidInputError, match=str(path)):
        next(read_video_frames(path, every=10))
    with pytest.raises(InvalidInputError, match=str(path)):
        match_video(catalog, backbone, path, every=10, k=2)


def _cli(home: Path) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = common.CliState({"home": home})

    app.command()(video)
    return app


def test_cli_writes_the_report(catalog: Catalog, home: Path, clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(
        _cli(home),
        ["video", str(clip), "--every", "450", "--k", "2", "--out", str(out), "--source", "product"],
    )
    assert result.exit_code == 0, result.output
    assert "4 sampled frames (every 450)" in result.output and "frames/s" in result.output
    assert sorted(p.name for p in out.glob("*.png")) == [f"frame_{i:06d}.png" for i in (0, 450, 900, 1350)]
    assert (out / "matches.csv").is_file() and (out / "matches.json").is_file()


@pytest.mark.parametrize("kind", ["zero-length", "text", "missing"])
def test_cli_bad_file_is_one_clear_line(kind: str, catalog: Catalog, home: Path, tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    if kind == "zero-length":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a video")
    result = CliRunner().invoke(_cli(home), ["video", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "error:" in result.output and "broken.mp4" in result.output
    assert "Traceback" not in result.output


def test_cli_without_embeddings_says_what_to_run(clip: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(_cli(tmp_path / "empty_home"), ["video", str(clip), "--every", "500"])
    assert result.exit_code == 3  # NotReadyError: an earlier step has not run
    assert "fashionlens embed" in result.output


def test_sampled_frames_go_into_the_catalogue(clip: Path, tmp_path: Path) -> None:
    result = read_video(clip, tmp_path / "frames", every=450)
    assert [Path(r.image_path).name for r in result.images] == [
        f"frame_{i:06d}.jpg" for i in (0, 450, 900, 1350)
    ]
    assert {r.source for r in result.images} == {"video"} and not result.skipped
    assert {(r.width, r.height) for r in result.images} == {(768, 432)}
    again = read_video(clip, tmp_path / "frames", every=450)
    assert [r.image_id for r in again.images] == [r.image_id for r in result.images]
    cat = Catalog(tmp_path / "db")
    assert cat.add_ingest(result).new_images == 4
    assert cat.add_ingest(again).new_images == 0


def test_truncated_video_ends_early_without_crashing(clip: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[:200_000])  # the first 6% of the file
    assert probe_video(cut).frame_count == 1394  # the container still announces every frame
    indices = [f.frame_index for f in read_video_frames(cut, every=30)]
    assert indices == [0, 30, 60]  # measured: the stream breaks off at frame 76
