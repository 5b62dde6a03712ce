"""`segment garments` end to end on held-out CCP photos: photos/s and where the time goes.

    python benchmarks/bench_segment.py                # 80 held-out photos, 2 torch threads
    python benchmarks/bench_segment.py --photos 40 --threads 1 --json runs/bench_segment.json

The job is built as the CLI builds it (`segment_job` from `Settings`: the shipped U-Net, the HOG
detector for wide regions, the settings' backbone for garment vectors on its default runtime) in a
temporary home that catalogues the photos, and runs on the local engine, in one process, in these
configurations, each over the same photos (``force``: every photo is done again):

- ``shipped``: the defaults (photo post-processing on one thread per core, PNG zlib level 1);
- ``1 photo thread``: post-processing on the calling thread only;
- ``PNG level 6``: Pillow's default zlib level for every crop and overlay;
- ``previous``: both of the above, as the job ran before this benchmark existed;
- ``torch embedding``: garment vectors from the torch model instead of the default runtime.

For each it prints photos/s, the ratio to ``shipped``, and the seconds per step (`StepTimes`:
decode, U-Net, people, people crops, garments, colour, garment crops, overlay, embed, store), as
ms per photo. Post-processing steps run on worker threads in ``shipped``, so their seconds are
thread-seconds and add up to more than the wall time; ``decode`` overlaps inference in every
configuration. A warm-up run on 4 other photos comes first (lazy imports, the int8 model build),
and model set-up is never timed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_CCP = Path(__file__).resolve().parents[2] / "shared" / "data" / "ccp"
STEPS = (
    "decode",
    "U-Net",
    "people",
    "people crops",
    "garments",
    "colour",
    "garment crops",
    "overlay",
    "embed",
    "store",
)


CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "shipped": {},
    "1 photo thread": {"photo_workers": 1},
    "PNG level 6": {"png_level": 6},
    "previous": {"photo_workers": 1, "png_level": 6},
    "torch embedding": {"runtime": "torch"},
}


def run_one(settings: Any, catalog: Any, out: Path, where: str, change: dict[str, Any]) -> dict[str, Any]:
    from fashionlens.engines.local import run_stage
    from fashionlens.jobs.segment import SegmentOptions, segment_job
    from fashionlens.models import factory

    stage = segment_job(settings, SegmentOptions(task="garments", out=out, where=where, force=True))
    if "photo_workers" in change:
        stage.photo_workers = change["photo_workers"]
    if "png_level" in change:
        stage.png_level = change["png_level"]
    if "runtime" in change:
        stage.backbone = factory.backbone(settings, runtime=change["runtime"])
    report = run_stage(stage, catalog)
    return {
        "photos": report.done,
        "garments": report.counts.get("garments", 0),
        "people": report.counts.get("people", 0),
        "seconds": report.seconds,
        "photos_per_s": report.items_per_second,
        "embedding": stage.backbone.model_id if stage.backbone is not None else "",
        "photo_workers": stage.photo_workers,
        "png_level": stage.png_level,
        "steps_s": dict(stage.times.seconds),
    }


def main() -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--ccp", type=Path, default=DEFAULT_CCP)
    parser.add_argument("--photos", type=int, default=80, help="held-out photos per configuration")
    parser.add_argument("--threads", type=int, default=2, help="torch / ONNX threads (Settings.num_threads)")
    parser.add_argument("--only", action="append", help="run only these configurations (repeatable)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    import torch

    from fashionlens.core.settings import Settings
    from fashionlens.core.types import Skipped
    from fashionlens.ingest.base import make_record
    from fashionlens.ingest.ccp import ccp_pixel_split
    from fashionlens.jobs.segment import default_photo_workers
    from fashionlens.store.catalog import Catalog
    from fashionlens.store.search_table import sql_literal

    torch.set_num_threads(args.threads)
    _, test = ccp_pixel_split(args.ccp)
    stems, warm = test[: args.photos], test[args.photos : args.photos + 4]
    chosen = [c for c in CONFIGURATIONS if not args.only or c in args.only]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home", num_threads=args.threads)
        catalog = Catalog(settings.db_path)
        records = [
            make_record(args.ccp / "photos" / f"{s}.jpg", source="street", dataset="ccp", split=split)
            for split, group in (("test", stems), ("valid", warm))
            for s in group
        ]
        skipped = [r for r in records if isinstance(r, Skipped)]
        if skipped:
            raise SystemExit(f"{skipped[0].path}: {skipped[0].reason}")
        catalog.upsert_images(records)
        run_one(settings, catalog, Path(tmp) / "warmup", f"split = {sql_literal('valid')}", {})
        where = f"split = {sql_literal('test')}"
        results = {}
        for name in chosen:
            results[name] = run_one(
                settings, catalog, Path(tmp) / name.replace(" ", "_"), where, CONFIGURATIONS[name]
            )
            r = results[name]
            done = f"{r['photos']} photos, {r['garments']} garments"
            print(f"{name:<16} {done}: {r['photos_per_s']:.2f} photos/s", flush=True)
    base = results.get("shipped")
    print(f"\nsegment garments, {len(stems)} held-out CCP photos, {args.threads} torch threads, "
          f"{default_photo_workers()} photo threads in 'shipped'")  # fmt: skip
    widths = [max(len(s), 8) for s in STEPS]
    header = f"{'configuration':<16} {'photos/s':>8} {'vs shipped':>10}  " + " ".join(
        f"{s:>{w}}" for s, w in zip(STEPS, widths, strict=True)
    )
    print(header)
    print(f"{'(ms per photo)':<16} {'':>8} {'':>10}")
    for name, r in results.items():
        ratio = f"{r['photos_per_s'] / base['photos_per_s']:.2f}x" if base else "-"
        steps = " ".join(
            f"{1000 * r['steps_s'].get(s, 0.0) / max(r['photos'], 1):{w}.1f}"
            for s, w in zip(STEPS, widths, strict=True)
        )
        print(f"{name:<16} {r['photos_per_s']:8.2f} {ratio:>10}  {steps}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"photos": len(stems), "threads": args.threads, "results": results}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
