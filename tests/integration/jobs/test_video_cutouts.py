"""Segmented video matching on the real clip: the identity fixture, U-Net cut-outs, `--mode cutouts`.

`tests/fixtures/video_identities.json` labels who is in each frame sampled every 30th (by eye; see
its ``_doc``); `benchmarks/bench_reid.py` scores re-identification on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from fashionlens.cli import common
from fashionlens.cli.video import video
from fashionlens.core.errors import NotReadyError
from fashionlens.core.segmentation import rle_to_mask
from fashionlens.core.settings import Settings
from fashionlens.ingest.video import probe_video, read_video_frames
from fashionlens.jobs.embed import embed_catalog
from fashionlens.jobs.ingest import ingest
from fashionlens.jobs.segment import PEOPLE_DATASET, segment_catalog
from fashionlens.jobs.video import VideoReport, match_video
from fashionlens.jobs.video_people import CutoutPeople, people_finder
from fashionlens.models import factory
from fashionlens.models.registry import Backbone, create_backbone
from fashionlens.render.video import write_video_report
from fashionlens.store.catalog import Catalog

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "video_identities.json"
FRAGMENTS = {60, 870, 1200}  # null frames showing a bit of someone (see the fixture's _doc)


@pytest.fixture(scope="module")
def identities() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def clip(shared_data: Path, identities: dict) -> Path:
    return shared_data / identities["video"]


@pytest.fixture(scope="module")
def cutouts(tmp_path_factory: pytest.TempPathFactory) -> CutoutPeople:
    finder = people_finder(Settings(home=tmp_path_factory.mktemp("cutout_home")), "cutouts")
    assert isinstance(finder, CutoutPeople)
    finder.setup()
    return finder


def test_fixture_matches_the_clip(identities: dict, clip: Path) -> None:
    info = probe_video(clip)
    assert info.frame_count == identities["frame_count"] == 1394
    every = identities["every"]
    frames = {int(k): v for k, v in identities["frames"].items()}
    assert sorted(frames) == list(range(0, info.frame_count, every))
    used = [v for v in frames.values() if v is not None]
    assert set(used) == set(identities["identities"]) and len(set(used)) == 6
    assert len(used) == 35 and all(used.count(who) >= 4 for who in set(used))
    # one person at a time: each identity is one run of sampled frames, and an empty frame
    # separates two people
    order = [frames[i] for i in sorted(frames)]
    runs = [who for k, who in enumerate(order) if who is not None and (k == 0 or order[k - 1] != who)]
    assert len(runs) == len(set(runs)) == 6
    for k in range(1, len(order)):
        assert order[k] is None or order[k - 1] in (None, order[k])


def test_cutouts_for_the_labelled_frames(identities: dict, clip: Path, cutouts: CutoutPeople) -> None:
    labels = {int(k): v for k, v in identities["frames"].items()}
    for frame in read_video_frames(clip, identities["every"]):
        people = cutouts.find(frame.rgb)
        if labels[frame.frame_index] is None:
            if frame.frame_index not in FRAGMENTS:
                assert people == [], f"a person on empty frame {frame.frame_index}"
            continue
        assert people, f"no cut-out on frame {frame.frame_index} ({labels[frame.frame_index]})"
        person = max(people, key=lambda p: p.area)
        x1, y1, x2, y2 = person.crop_xyxy
        assert person.image.shape == (y2 - y1, x2 - x1, 3) and y2 - y1 >= 150  # a person, not a speck
        mask = rle_to_mask(json.loads(person.mask_rle_json))[y1:y2, x1:x2]
        assert mask.shape == person.image.shape[:2]
        assert (person.image[~mask] == 255).all(), "the background is not white"
        assert (person.image[mask] == frame.rgb[y1:y2, x1:x2][mask]).all()
        assert 0.2 < mask.mean() < 0.95


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    model = create_backbone("mobilenet_v2.imagenet")
    model.setup()
    return model


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video_cutouts_home")


@pytest.fixture(scope="module")
def catalog(shared_data: Path, home: Path, backbone: Backbone) -> Catalog:
    """30 products and 8 CCP street photos, the street people cut out, everything embedded."""
    settings = Settings(home=home)
    cat = Catalog(settings.db_path)
    ingest(cat, shared_data / "products", "products", settings, limit=30)
    ingest(cat, shared_data / "ccp", "ccp", settings, limit=8)
    report = segment_catalog(
        cat, factory.unet(settings), home / "segments", where="source = 'street'", overlays=False
    )
    assert report.done == 8 and report.people >= 8, report.skipped
    embedded = embed_catalog(cat, backbone)
    assert embedded.embedded == 38 + report.people, embedded.skipped
    return cat


@pytest.fixture(scope="module")
def report(catalog: Catalog, backbone: Backbone, clip: Path, cutouts: CutoutPeople) -> VideoReport:
    return match_video(catalog, backbone, clip, every=270, k=3, people=cutouts)


def test_cutout_people_match_person_crops_only(report: VideoReport, catalog: Catalog) -> None:
    crops = set(
        catalog.read("images", where=f"original_dataset = '{PEOPLE_DATASET}'").column("image_id").to_pylist()
    )
    assert report.mode == "cutouts" and report.detector_id.startswith("unet")
    frames = {f.frame_index: f for f in report.frames}
    assert sorted(frames) == list(range(0, 1394, 270))
    assert frames[0].people == () and frames[270].people and frames[540].people  # empty, p2, p3
    for frame in report.frames:
        for person in frame.people:
            assert [m.rank for m in person.matches] == [1, 2, 3]
            assert {m.image_id for m in person.matches} <= crops, "a match that is not a person crop"
            assert person.mask_rle_json


def test_cutout_report_shows_the_cutouts(report: VideoReport, tmp_path: Path) -> None:
    files = write_video_report(report, tmp_path / "out")
    data = json.loads(files.json_path.read_text())
    assert data["mode"] == "cutouts" and data["people"] == report.people >= 2
    from PIL import Image

    with Image.open(tmp_path / "out" / "frame_000270.png") as png:
        rgb = np.asarray(png.convert("RGB"))
    # the person row under the frame (margin 10, header 28, the frame, gap 8) starts with the
    # cut-out: most of its left edge is pure white, which the frame's wall hardly ever is
    top = 10 + 28 + 432 + 8
    edge = rgb[top + 4 : top + 146, 14:24]
    assert (edge == 255).all(axis=-1).mean() > 0.5
    assert (rgb[38 : 38 + 432, 10 : 10 + 768] == 255).all(axis=-1).mean() < 0.05


def test_without_person_crops_says_what_to_run(
    shared_data: Path, tmp_path: Path, backbone: Backbone, clip: Path, cutouts: CutoutPeople
) -> None:
    settings = Settings(home=tmp_path / "products_only")
    cat = Catalog(settings.db_path)
    ingest(cat, shared_data / "products", "products", settings, limit=10)
    embed_catalog(cat, backbone)
    with pytest.raises(NotReadyError, match="fashionlens segment people"):
        match_video(cat, backbone, clip, every=500, people=cutouts)


def _cli(home: Path) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = common.CliState({"home": home})

    app.command()(video)
    return app


def test_cli_mode_cutouts(catalog: Catalog, home: Path, clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = ["video", str(clip), "--every", "450", "--k", "2", "--out", str(out), "--mode", "cutouts"]
    result = CliRunner().invoke(_cli(home), args)
    assert result.exit_code == 0, result.output
    assert "4 sampled frames (every 450)" in result.output and "(cutouts)" in result.output
    assert json.loads((out / "matches.json").read_text())["mode"] == "cutouts"


def test_cli_mode_cutouts_without_crops_and_a_bad_mode(shared_data: Path, clip: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home)
    cat = Catalog(settings.db_path)
    ingest(cat, shared_data / "products", "products", settings, limit=5)
    result = CliRunner().invoke(_cli(home), ["video", str(clip), "--mode", "cutouts", "--every", "500"])
    assert result.exit_code == 3, result.output  # NotReadyError
    assert "fashionlens segment people" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(_cli(home), ["video", str(clip), "--mode", "masks"])
    assert result.exit_code == 1 and "--mode must be one of boxes, cutouts" in result.output
