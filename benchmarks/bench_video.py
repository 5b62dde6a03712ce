"""Video matching throughput: frames/s for a whole clip, split into decode / detect / embed / search.

    python benchmarks/bench_video.py --every 30 --products 1000

Builds a catalogue of ``--products`` real product photos in a temporary FASHIONLENS_HOME (ingest +
embed with the default backbone; not timed as part of the video), then runs
`fashionlens.jobs.video.match_video` on the clip: every ``--every``-th frame is decoded,
people are detected (OpenCV HOG), each crop is embedded and its top-k products retrieved
(filtered with ``source = 'product'``). Prints frames/s processed (sampled frames over decode +
detect + embed + search), each stage's share, seconds of video per second, and the number of
people detected on each sampled frame. With ``--repeats`` the fastest run counts (shared machine).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from fashionlens.core.settings import DEFAULT_BACKBONE, Settings
from fashionlens.jobs.embed import embed_catalog
from fashionlens.jobs.ingest import ingest
from fashionlens.jobs.video import VideoReport, match_video
from fashionlens.models.registry import create_backbone
from fashionlens.models.segmenters.person_detector import HogPersonDetector
from fashionlens.store.catalog import Catalog

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_VIDEO = SHARED / "video" / "one-by-one-person-detection.mp4"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--every", type=int, default=30)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--products", type=int, default=1000, help="catalogue size (real product photos)")
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE)
    parser.add_argument("--win-stride", type=int, default=4, help="HOG window stride at the working scale")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--home", type=Path, default=None, help="reuse a FASHIONLENS_HOME (default: temp)")
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="bench_video_"))
    settings = Settings(home=home)
    catalog = Catalog(settings.db_path)
    backbone = create_backbone(args.backbone)
    t0 = time.perf_counter()
    ingest(catalog, SHARED / "products", "products", settings, limit=args.products)
    embedded = embed_catalog(catalog, backbone, batch_size=settings.batch_size)
    print(
        f"catalogue: {catalog.count('images')} images, {embedded.embedded} newly embedded "
        f"({embedded.images_per_second:.1f} img/s) in {time.perf_counter() - t0:.1f}s; home {home}"
    )
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared)")

    detector = HogPersonDetector(win_stride=args.win_stride)
    best: VideoReport | None = None
    for _ in range(args.repeats):
        report = match_video(
            catalog,
            backbone,
            args.video,
            every=args.every,
            k=args.k,
            where="source = 'product'",
            detector=detector,
        )
        if best is None or report.timings.total < best.timings.total:
            best = report
    assert best is not None
    t, n, (w, h) = best.timings, len(best.frames), best.video.size_wh
    print(
        f"\n{args.video.name}: {best.video.frame_count} frames {w}x{h} "
        f"@ {best.video.fps:g} fps; every {args.every} -> {n} sampled frames, {best.people} people, "
        f"top-{args.k} of {catalog.count('images')} products, HOG stride {args.win_stride}"
    )
    print(f"frames/s processed (decode + detect + embed + search): {best.frames_per_second:.2f}")
    print(f"seconds of video per second of processing: {best.video_seconds_per_second:.1f}")
    print(f"{'stage':8} {'total s':>8} {'ms/frame':>9} {'share':>6}")
    for stage in ("decode", "detect", "embed", "search"):
        seconds = getattr(t, stage)
        print(f"{stage:8} {seconds:8.2f} {1000 * seconds / max(n, 1):9.1f} {seconds / t.total:6.1%}")
    if best.people:
        print(
            f"per person: embed {1000 * t.embed / best.people:.0f} ms, "
            f"search {1000 * t.search / best.people:.0f} ms"
        )
    counts = [len(f.people) for f in best.frames]
    print("\npeople per sampled frame (frame:count):")
    print(" ".join(f"{f.frame_index}:{len(f.people)}" for f in best.frames))
    many = sum(c >= 2 for c in counts)
    print(f"frames with 0 / 1 / 2+ people: {counts.count(0)} / {counts.count(1)} / {many}")


if __name__ == "__main__":
    main()
