"""The segmentation pipeline on real CCP photos, driven by the CCP ground truth as the segmenter.

The ground-truth "oracle" isolates what this file tests — people instances, crops on white, garment
records, links, colours, overlays, idempotency and bad input — from the U-Net's accuracy, which
`test_unet_ccp.py` measures on held-out photos.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionlens.core.segmentation import ccp_to_semantic, rle_to_mask, semantic_to_instances
from fashionlens.ingest.ccp import ccp_label_names, load_ccp_mask
from fashionlens.ingest.folder import read_folder
from fashionlens.jobs.segment import PEOPLE_DATASET, segment_catalog
from fashionlens.store.catalog import Catalog

STEMS = ("0005", "0010")


def _key(rgb: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()


class OracleSegmenter:
    """Returns the CCP ground truth for the photos it knows, background for anything else."""

    model_id = "ccp-ground-truth"

    def __init__(self) -> None:
        self.maps: dict[str, np.ndarray] = {}
        self.calls = 0

    def add(self, rgb: np.ndarray, seg: np.ndarray) -> None:
        self.maps[_key(rgb)] = seg

    def predict(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        self.calls += len(images)
        out = []
        for im in images:
            seg = self.maps.get(_key(im), np.zeros(im.shape[:2], np.uint8))
            out.append((seg, np.full(seg.shape, 0.9, np.float32)))
        return out


@pytest.fixture(scope="module")
def photos(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    ccp = shared_data / "ccp"
    names = ccp_label_names(ccp)
    folder = tmp_path_factory.mktemp("photos")
    oracle = OracleSegmenter()
    truth = {}
    rgbs = []
    for stem in STEMS:
        rgb = np.asarray(Image.open(ccp / "photos" / f"{stem}.jpg").convert("RGB"))
        seg = ccp_to_semantic(load_ccp_mask(ccp / "annotations" / "pixel-level" / f"{stem}.mat"), names)
        Image.fromarray(rgb).save(folder / f"ccp_{stem}.png")
        oracle.add(rgb, seg)
        truth[f"ccp_{stem}.png"] = seg
        rgbs.append((rgb, seg))
    # two real people side by side in one photo (same height: crop both to the smaller)
    h = min(r.shape[0] for r, _ in rgbs)
    pair = np.concatenate([r[:h] for r, _ in rgbs], axis=1)
    pair_seg = np.concatenate([s[:h] for _, s in rgbs], axis=1)
    Image.fromarray(pair).save(folder / "two_people.png")
    oracle.add(pair, pair_seg)
    truth["two_people.png"] = pair_seg
    # grayscale, CMYK and EXIF-rotated versions of the first photo
    grey = Image.fromarray(rgbs[0][0]).convert("L")
    grey.save(folder / "grey.png")
    grey_rgb = np.asarray(grey.convert("RGB"))
    oracle.add(grey_rgb, rgbs[0][1])
    cmyk = Image.fromarray(rgbs[0][0]).convert("CMYK")
    cmyk.save(folder / "cmyk.jpg", quality=95)
    oracle.add(np.asarray(Image.open(folder / "cmyk.jpg").convert("RGB")), rgbs[0][1])
    rotated = Image.fromarray(rgbs[0][0]).transpose(Image.Transpose.ROTATE_90)  # stored sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation "rotate 90 CW to view", which undoes ROTATE_90 (counter-clockwise)
    rotated.save(folder / "exif_rotated.png", exif=exif)
    # no person, too small, not an image
    Image.new("RGB", (300, 200), (200, 180, 160)).save(folder / "empty_room.png")
    Image.new("RGB", (20, 20), (0, 0, 0)).save(folder / "tiny.png")
    (folder / "truncated.jpg").write_bytes((ccp / "photos" / f"{STEMS[0]}.jpg").read_bytes()[:3000])
    return {"folder": folder, "oracle": oracle, "truth": truth}


def _ingest(catalog: Catalog, folder: Path) -> dict[str, str]:
    result = read_folder(folder, source="street", dataset="test")
    catalog.add_ingest(result)
    return {Path(r.image_path).name: r.image_id for r in result.images}


def test_people_and_garments_on_real_photos(photos: dict, tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "db")
    ids = _ingest(catalog, photos["folder"])
    assert "truncated.jpg" not in ids  # ingest refuses it; a file damaged after ingest must be skipped
    later = tmp_path / "later"
    later.mkdir()
    Image.new("RGB", (120, 160), (10, 200, 30)).save(later / "damaged.jpg")
    _ingest(catalog, later)
    data = (later / "damaged.jpg").read_bytes()
    (later / "damaged.jpg").write_bytes(data[: len(data) // 2])
    out = tmp_path / "segments"
    report = segment_catalog(catalog, photos["oracle"], out, task="garments")
    assert report.done + len(report.skipped) == report.total
    reasons = sorted(s.reason.split(" (")[0] for s in report.skipped)
    # cut in half, this small JPEG loses part of its header: the decoder says so
    assert reasons == ["corrupt image header", "too small to segment"]

    people = catalog.read("people").to_pylist()
    by_photo: dict[str, list[dict]] = {}
    for row in people:
        by_photo.setdefault(row["image_id"], []).append(row)
    assert len(by_photo[ids["two_people.png"]]) == 2
    for name in ("ccp_0005.png", "ccp_0010.png", "grey.png", "cmyk.jpg", "exif_rotated.png"):
        assert len(by_photo[ids[name]]) == 1, name
    assert ids["empty_room.png"] not in by_photo
    assert report.no_person == 1

    # the person mask is the ground truth's non-background; the crop is on white
    row = by_photo[ids["ccp_0005.png"]][0]
    mask = rle_to_mask(json.loads(row["mask_rle_json"]))
    assert (mask == (photos["truth"]["ccp_0005.png"] != 0)).mean() > 0.99
    crop = np.asarray(Image.open(row["crop_path"]))
    assert crop.shape[0] > 0.5 * mask.shape[0]
    assert (crop[0, 0] == 255).all() and (crop[-1, -1] == 255).all()
    crop_rows = catalog.read("images", where=f"original_dataset = '{PEOPLE_DATASET}'").to_pylist()
    assert row["person_image_id"] in {r["image_id"] for r in crop_rows}
    assert all(r["source"] == "street" for r in crop_rows)

    # garments: the ground truth's regions, each linked to the person it lies on, with a colour
    truth = semantic_to_instances(photos["truth"]["ccp_0005.png"])
    garments = catalog.read("garments", where=f"image_id = '{ids['ccp_0005.png']}'").to_pylist()
    assert sorted(g["category"] for g in garments) == sorted(truth.categories)
    assert all(g["person_key"] == row["person_key"] for g in garments)
    assert all(g["colour"] for g in garments)
    pair_garments = catalog.read("garments", where=f"image_id = '{ids['two_people.png']}'").to_pylist()
    assert {g["person_key"].rsplit("|", 1)[1] for g in pair_garments} == {"0", "1"}

    overlays = sorted(p.name for p in (out / "overlays").iterdir())
    assert len(overlays) == report.done
    overlay = np.asarray(Image.open(out / "overlays" / f"{ids['ccp_0005.png']}.png"))
    assert not np.array_equal(overlay, np.asarray(Image.open(photos["folder"] / "ccp_0005.png")))


def test_rerun_is_idempotent_and_force_replaces(photos: dict, tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "db")
    _ingest(catalog, photos["folder"])
    oracle = photos["oracle"]
    first = segment_catalog(catalog, oracle, tmp_path / "s", task="people", overlays=False)
    counts = {t: catalog.count(t) for t in ("people", "images", "segment_status")}
    calls = oracle.calls
    again = segment_catalog(catalog, oracle, tmp_path / "s", task="people", overlays=False)
    assert again.done == 0 and again.already_done == first.done
    assert oracle.calls == calls
    forced = segment_catalog(catalog, oracle, tmp_path / "s", task="people", overlays=False, force=True)
    assert forced.done == first.done
    assert {t: catalog.count(t) for t in counts} == counts
    # crops are never segmented themselves
    assert catalog.count("segment_status") == first.done


def test_unknown_task_is_a_clear_error(tmp_path: Path) -> None:
    from fashionlens.core.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="task must be one of people, garments"):
        segment_catalog(Catalog(tmp_path / "db"), OracleSegmenter(), tmp_path, task="hats")  # type: ignore[arg-type]


def _rows(catalog: Catalog, table: str, key: str, drop: tuple[str, ...] = ()) -> list[dict]:
    rows = sorted(catalog.read(table).to_pylist(), key=lambda r: r[key])
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def test_photo_threads_and_png_level_change_speed_not_results(photos: dict, tmp_path: Path) -> None:
    from fashionlens.jobs.segment import SegmentStage

    outs = {}
    for name, workers, level in (("serial", 1, 6), ("threads", 3, 1)):
        catalog = Catalog(tmp_path / name / "db")
        _ingest(catalog, photos["folder"])
        stage = SegmentStage(
            photos["oracle"], tmp_path / name / "s", task="garments", photo_workers=workers, png_level=level
        )
        from fashionlens.engines.local import run_stage

        report = run_stage(stage, catalog)
        assert report.done >= 7
        # every step of the job is timed, network and post-processing apart
        assert {"decode", "U-Net", "people", "people crops", "garments", "colour", "overlay", "store"} <= set(
            stage.times.seconds
        )
        outs[name] = catalog
        crops = sorted((tmp_path / name / "s" / "garments").glob("*.png"))
        assert crops
        outs[name + " pixels"] = [np.asarray(Image.open(c)).tobytes() for c in crops]
        outs[name + " bytes"] = sum(c.stat().st_size for c in crops)
    # the same garments, colours and people, in the same order; the crops' pixels are identical
    # (PNG is lossless), only the files' compression differs
    drop = ("crop_path",)
    assert _rows(outs["serial"], "garments", "garment_key", drop) == _rows(
        outs["threads"], "garments", "garment_key", drop
    )
    people_drop = (*drop, "person_image_id")  # a crop's image id is the hash of its PNG bytes
    assert _rows(outs["serial"], "people", "person_key", people_drop) == _rows(
        outs["threads"], "people", "person_key", people_drop
    )
    assert outs["serial pixels"] == outs["threads pixels"]
    assert outs["serial bytes"] < outs["threads bytes"]

    # re-run at the other level: every crop gets a new image id; the old crop images go, none linger
    catalog = outs["serial"]
    crops = f"original_dataset = '{PEOPLE_DATASET}'"
    old_ids = set(catalog.read("images", where=crops).column("image_id").to_pylist())
    segment_catalog(catalog, photos["oracle"], tmp_path / "serial" / "s", task="garments", force=True)
    new_ids = set(catalog.read("images", where=crops).column("image_id").to_pylist())
    assert new_ids == set(catalog.read("people").column("person_image_id").to_pylist())
    assert not new_ids & old_ids and len(new_ids) == len(old_ids)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"photo_workers": 0}, "photo_workers must be >= 1"),
        ({"png_level": 10}, "png_level must be a zlib level"),
    ],
)
def test_bad_speed_settings_are_clear_errors(kwargs: dict, message: str, tmp_path: Path) -> None:
    from fashionlens.core.errors import InvalidInputError
    from fashionlens.jobs.segment import SegmentStage

    with pytest.raises(InvalidInputError, match=message):
        SegmentStage(OracleSegmenter(), tmp_path, task="garments", **kwargs)


def test_a_crop_another_segmenter_still_points_to_is_kept(photos: dict, tmp_path: Path) -> None:
    class Renamed(OracleSegmenter):
        model_id = "ccp-ground-truth-copy"

    other = Renamed()
    other.maps = photos["oracle"].maps
    catalog = Catalog(tmp_path / "db")
    _ingest(catalog, photos["folder"])
    crops = f"original_dataset = '{PEOPLE_DATASET}'"
    for segmenter in (photos["oracle"], other):  # the same masks: the same crop bytes and image ids
        segment_catalog(catalog, segmenter, tmp_path / segmenter.model_id, overlays=False, png_level=6)
    shared = set(catalog.read("images", where=crops).column("image_id").to_pylist())
    segment_catalog(catalog, photos["oracle"], tmp_path / "again", overlays=False, force=True, png_level=1)
    kept = set(catalog.read("images", where=crops).column("image_id").to_pylist())
    assert shared < kept  # the copy's rows still point to the level-6 crops; the re-run added its own
    referenced = set(catalog.read("people").column("person_image_id").to_pylist())
    assert kept == referenced
