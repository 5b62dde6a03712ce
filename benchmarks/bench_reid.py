"""Re-identification in the shared clip: HOG boxes vs U-Net cut-outs on white, same backbone.

    OMP_NUM_THREADS=1 python benchmarks/bench_reid.py [--threads 1]

The clip's people walk in one at a time; `tests/fixtures/video_identities.json` says who is in each
sampled frame (every 30th; 35 of the 47 frames show one of 6 people, labelled by eye). Each
labelled frame's person is found by the two finders `fashionlens video --mode` uses
(`fashionlens.jobs.video_people`): ``boxes`` (OpenCV HOG box, padded 8%, with its background) and
``cutouts`` (the shipped U-Net person path, the person cut out on white). Where a finder sees more
than one person on a frame, the largest counts (every labelled frame shows one person). A third
variant isolates what the white background does: the U-Net person's box cropped *with* its
background.

Every image is embedded with the settings' default backbone (as `fashionlens video` does). Each
frame's person then queries the people of all other frames (cosine): top-1 is the share of queries
whose nearest neighbour is the same identity, mAP the mean average precision of retrieving every
other frame of that identity. The headline rows use the frames where *both* finders found someone,
so every variant answers the same queries over the same gallery; each finder's own coverage is
printed too. "chance" is what a random ranking scores (positives / gallery size, averaged).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from fashionlens.core.settings import Settings
from fashionlens.ingest.video import probe_video, read_video_frames
from fashionlens.jobs.video_people import BoxPeople, CutoutPeople, FramePerson, PeopleFinder
from fashionlens.models import factory
from fashionlens.models.segmenters.person_detector import HogPersonDetector

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FIXTURE = ROOT / "tests" / "fixtures" / "video_identities.json"
HOG, UNET_BOX, CUTOUT = "HOG boxes (background)", "U-Net boxes (background)", "U-Net cut-outs on white"


def main_person(people: list[FramePerson]) -> FramePerson | None:
    return max(people, key=lambda p: p.area) if people else None


def retrieval(
    vectors: np.ndarray,
    ids: list[str],
    frames: list[int],
    min_gap: int = 0,
    misses: list[tuple[int, int]] | None = None,
) -> tuple[float, float, float, int]:
    """(top-1, mAP, chance, queries) of each row querying the other rows (cosine; rows
    L2-normalised) whose frame is more than ``min_gap`` frames away; a query left with no
    same-identity row in its gallery is not counted. Misses (query frame, its top-1 frame) are
    appended to ``misses`` when given."""
    sims = vectors @ vectors.T
    labels, at = np.asarray(ids), np.asarray(frames)
    top1, aps, chance = [], [], []
    for q in range(len(ids)):
        gallery = np.flatnonzero((np.abs(at - at[q]) > min_gap) & (np.arange(len(ids)) != q))
        order = gallery[np.argsort(-sims[q, gallery], kind="stable")]
        relevant = labels[order] == labels[q]
        if not relevant.any():
            continue
        top1.append(float(relevant[0]))
        if misses is not None and not relevant[0]:
            misses.append((frames[q], frames[order[0]]))
        hits = np.cumsum(relevant)
        ranks = np.flatnonzero(relevant) + 1
        aps.append(float(np.mean(hits[ranks - 1] / ranks)))
        chance.append(float(relevant.mean()))
    return float(np.mean(top1)), float(np.mean(aps)), float(np.mean(chance)), len(top1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument("--data", type=Path, default=SHARED, help="the shared data folder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--min-gap", type=int, default=60, help="b: gallery frames must be more than this many frames away"
    )
    parser.add_argument("--home", type=Path, default=None, help="FASHIONLENS_HOME (default: temp)")
    args = parser.parse_args()

    fixture = json.loads(args.fixture.read_text())
    clip = args.data / fixture["video"]
    info = probe_video(clip)
    if info.frame_count != fixture["frame_count"]:
        raise SystemExit(f"{clip}: {info.frame_count} frames, the fixture expects {fixture['frame_count']}")
    labels: dict[int, str | None] = {int(k): v for k, v in fixture["frames"].items()}
    home = args.home or Path(tempfile.mkdtemp(prefix="bench_reid_"))
    settings = Settings(home=home, num_threads=args.threads)
    backbone = factory.backbone(settings)
    finders: dict[str, PeopleFinder] = {
        "boxes": BoxPeople(HogPersonDetector()),
        "cutouts": CutoutPeople(factory.unet(settings), factory.person_detector(settings)),
    }
    for finder in finders.values():
        finder.setup()
    backbone.setup()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared)")
    print(
        f"backbone {backbone.model_id}; finders: "
        + ", ".join(f"{m} = {f.model_id}" for m, f in finders.items())
    )

    found: dict[str, dict[int, FramePerson | None]] = {m: {} for m in finders}
    counts: dict[str, dict[int, int]] = {m: {} for m in finders}
    seconds = dict.fromkeys(finders, 0.0)
    raw: dict[int, np.ndarray] = {}
    sampled = 0
    for frame in read_video_frames(clip, fixture["every"]):
        sampled += 1
        for mode, finder in finders.items():
            t0 = time.perf_counter()
            people = finder.find(frame.rgb)
            seconds[mode] += time.perf_counter() - t0
            found[mode][frame.frame_index] = main_person(people)
            counts[mode][frame.frame_index] = len(people)
        if labels.get(frame.frame_index):
            raw[frame.frame_index] = frame.rgb
    if sorted(found["boxes"]) != sorted(labels):
        raise SystemExit("the sampled frames differ from the fixture's; was the clip changed?")

    labelled = [i for i in sorted(labels) if labels[i]]
    empty = [i for i in sorted(labels) if not labels[i]]
    print(
        f"\n{clip.name}: {sampled} frames sampled every {fixture['every']}; {len(labelled)} show one of "
        f"{len(set(labels[i] for i in labelled))} people, {len(empty)} are empty or show a fragment"
    )
    print(f"{'finder':8} {'labelled frames with a person':>30} {'2+ people':>10}", end=" ")
    print(f"{'people on empty':>16} {'ms/frame':>9}")
    for mode in finders:
        hit = sum(found[mode][i] is not None for i in labelled)
        many = sum(counts[mode][i] >= 2 for i in labelled)
        false = sum(counts[mode][i] for i in empty)
        print(
            f"{mode:8} {hit:>24} / {len(labelled):<3} {many:>10} {false:>16} "
            f"{1000 * seconds[mode] / sampled:9.0f}"
        )

    def image(variant: str, i: int) -> np.ndarray:
        person = found["boxes" if variant == HOG else "cutouts"][i]
        if person is None:
            raise SystemExit(f"frame {i}: no person for {variant}")
        if variant == UNET_BOX:
            x1, y1, x2, y2 = person.crop_xyxy
            return raw[i][y1:y2, x1:x2]
        return person.image

    from PIL import Image

    own = {
        HOG: [i for i in labelled if found["boxes"][i] is not None],
        UNET_BOX: [i for i in labelled if found["cutouts"][i] is not None],
        CUTOUT: [i for i in labelled if found["cutouts"][i] is not None],
    }
    both = [i for i in own[HOG] if i in own[CUTOUT]]
    vectors: dict[str, dict[int, np.ndarray]] = {}
    for variant, frames in own.items():
        embedded = backbone.embed([Image.fromarray(image(variant, i)) for i in frames])
        vectors[variant] = dict(zip(frames, np.asarray(embedded, dtype=np.float32), strict=True))

    missed: dict[str, list[tuple[int, int]]] = {v: [] for v in own}

    def score(variant: str, frames: list[int], gap: int) -> tuple[float, float, float, int]:
        matrix = np.stack([vectors[variant][i] for i in frames])
        keep = missed[variant] if gap == 0 and frames is both else None
        return retrieval(matrix, [str(labels[i]) for i in frames], frames, gap, keep)

    gap = args.min_gap
    print(
        f"\nsame-identity retrieval on the {len(both)} frames where both finders found the person "
        f"({len({labels[i] for i in both})} identities); a: each frame queries the other "
        f"{len(both) - 1}; b: only frames more than {gap} frames ({gap / info.fps:g} s) away"
    )
    head = f"{'query and gallery images':26} {'top-1 a':>8} {'mAP a':>6} {'chance':>7}"
    print(f"{head} {'top-1 b':>8} {'mAP b':>6} {'chance':>7} {'queries b':>9}")
    for variant in own:
        a1, a_map, a_chance, _ = score(variant, both, 0)
        b1, b_map, b_chance, n_b = score(variant, both, gap)
        print(
            f"{variant:26} {a1:8.3f} {a_map:6.3f} {a_chance:7.3f} {b1:8.3f} {b_map:6.3f} "
            f"{b_chance:7.3f} {n_b:9d}"
        )
    for variant, pairs in missed.items():
        text = ", ".join(f"{q} ({labels[q]}) -> {t} ({labels[t]})" for q, t in pairs) or "none"
        print(f"top-1 misses a, {variant}: {text}")
    print("\neach variant on every labelled frame its own finder covers (a: all other frames):")
    print(f"{'query and gallery images':26} {'frames':>6} {'top-1 a':>8} {'mAP a':>6} {'chance':>7}")
    for variant, frames in own.items():
        a1, a_map, a_chance, _ = score(variant, frames, 0)
        print(f"{variant:26} {len(frames):6d} {a1:8.3f} {a_map:6.3f} {a_chance:7.3f}")


if __name__ == "__main__":
    main()
