"""The video report: a PNG per sampled frame (frame + boxes, crop, matches), matches.json and matches.csv."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.ingest.video import read_video_frames
from fashionlens.jobs.video import FrameMatches, PersonMatches, VideoReport
from fashionlens.render.fonts import default_font

logger = logging.getLogger(__name__)


# -- the report files ----------------------------------------------------------------------------
CSV_COLUMNS = ("frame_index", "time_s", "person_index", "box_xyxy", "rank", "image_id", "image_path", "score")
_COLOURS = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240))


@dataclass(frozen=True)
class VideoReportFiles:
    out_dir: Path
    json_path: Path
    csv_path: Path
    frame_pngs: tuple[Path, ...]


def _round_box(box: Iterable[float]) -> list[float]:
    return [round(float(v), 1) for v in box]


def report_rows(report: VideoReport) -> list[dict[str, Any]]:
    """One row per (frame, person, match) with the `CSV_COLUMNS`; ``box_xyxy`` as a list."""
    return [
        {
            "frame_index": frame.frame_index,
            "time_s": round(frame.time_s, 3),
            "person_index": person.person_index,
            "box_xyxy": _round_box(person.box_xyxy),
            "rank": match.rank,
            "image_id": match.image_id,
            "image_path": match.image_path,
            "score": round(match.score, 6),
        }
        for frame in report.frames
        for person in frame.people
        for match in person.matches
    ]


def _png_name(frame_index: int) -> str:
    return f"frame_{frame_index:06d}.png"


def report_to_dict(report: VideoReport) -> dict[str, Any]:
    """The whole report as JSON-ready data (what ``matches.json`` holds)."""
    t = report.timings
    return {
        "video": {
            "path": report.video.path,
            "frame_count": report.video.frame_count,
            "fps": report.video.fps,
            "size_wh": list(report.video.size_wh),
        },
        "model_id": report.model_id,
        "detector_id": report.detector_id,
        "mode": report.mode,
        "every": report.every,
        "k": report.k,
        "where": report.where,
        "sampled_frames": len(report.frames),
        "people": report.people,
        "timings_s": {
            "decode": round(t.decode, 4),
            "detect": round(t.detect, 4),
            "embed": round(t.embed, 4),
            "search": round(t.search, 4),
            "total": round(t.total, 4),
        },
        "frames_per_second": round(report.frames_per_second, 3),
        "frames": [
            {
                "frame_index": f.frame_index,
                "time_s": round(f.time_s, 3),
                "png": _png_name(f.frame_index),
                "people": [
                    {
                        "person_index": p.person_index,
                        "box_xyxy": _round_box(p.box_xyxy),
                        "detection_score": round(p.detection_score, 4),
                        "crop_xyxy": list(p.crop_xyxy),
                        "matches": [
                            {
                                "rank": m.rank,
                                "image_id": m.image_id,
                                "image_path": m.image_path,
                                "score": round(m.score, 6),
                            }
                            for m in p.matches
                        ],
                    }
                    for p in f.people
                ],
            }
            for f in report.frames
        ],
    }


class _Thumbs:
    """Square catalogue thumbnails, letterboxed on white, loaded once per image."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._cache: dict[str, Any] = {}

    def get(self, path: str) -> Any:
        from PIL import Image, ImageDraw

        if path not in self._cache:
            canvas = Image.new("RGB", (self.size, self.size), (255, 255, 255))
            try:
                from fashionlens.ingest.images import open_rgb

                im = open_rgb(path)
                im.thumbnail((self.size, self.size))
                canvas.paste(im, ((self.size - im.width) // 2, (self.size - im.height) // 2))
            except InvalidInputError:
                canvas.paste((200, 200, 200), (0, 0, self.size, self.size))
                ImageDraw.Draw(canvas).text((8, self.size // 2 - 8), "image missing", fill=(60, 60, 60))
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[path] = canvas
        return self._cache[path]


def _person_image(person: PersonMatches, rgb: np.ndarray) -> np.ndarray:
    """What was embedded for ``person``: its crop of the frame, or its cut-out on white."""
    x1, y1, x2, y2 = person.crop_xyxy
    if not person.mask_rle_json:
        return rgb[y1:y2, x1:x2]
    import json

    from fashionlens.core.segmentation import rle_to_mask

    mask = rle_to_mask(json.loads(person.mask_rle_json))[y1:y2, x1:x2]
    return np.where(mask[..., None], rgb[y1:y2, x1:x2], np.uint8(255)).astype(np.uint8)


def render_frame(frame: FrameMatches, rgb: np.ndarray, k: int, thumbs: _Thumbs, title: str = "") -> Any:
    """One PIL image: the frame with numbered boxes, then per person its crop and top-k matches."""
    from PIL import Image, ImageDraw

    thumb, gap, margin = thumbs.size, 8, 10
    big, small = default_font(16), default_font(12)
    height, width = rgb.shape[:2]
    crop_imgs = []
    for p in frame.people:
        crop = Image.fromarray(_person_image(p, rgb))
        scale = thumb / max(crop.height, 1)
        crop_imgs.append(crop.resize((max(1, round(crop.width * scale)), thumb)))
    caption_h = 34
    row_h = thumb + caption_h + gap
    rows_w = max([c.width + 2 * gap + k * (thumb + gap) for c in crop_imgs] or [0])
    canvas_w = max(width, rows_w) + 2 * margin
    header_h = 28
    canvas_h = margin + header_h + height + gap + len(frame.people) * row_h + margin
    canvas = Image.new("RGB", (canvas_w, canvas_h), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    n = len(frame.people)
    head = f"frame {frame.frame_index}  |  {frame.time_s:.1f} s  |  {n} {'person' if n == 1 else 'people'}"
    draw.text((margin, margin), f"{head}  |  {title}" if title else head, fill=(0, 0, 0), font=big)
    top = margin + header_h
    canvas.paste(Image.fromarray(rgb), (margin, top))
    for p in frame.people:
        colour = _COLOURS[p.person_index % len(_COLOURS)]
        x1, y1, x2, y2 = (round(v) for v in p.box_xyxy)
        draw.rectangle((margin + x1, top + y1, margin + x2, top + y2), outline=colour, width=3)
        label = f"person {p.person_index}  ({p.detection_score:.2f})"
        ty = top + max(y1 - 20, 0)
        draw.rectangle((margin + x1, ty, margin + x1 + 8 * len(label) + 6, ty + 18), fill=colour)
        draw.text((margin + x1 + 3, ty + 2), label, fill=(255, 255, 255), font=small)
    y = top + height + gap
    for p, crop in zip(frame.people, crop_imgs, strict=True):
        colour = _COLOURS[p.person_index % len(_COLOURS)]
        canvas.paste(crop, (margin, y))
        draw.rectangle((margin, y, margin + crop.width - 1, y + thumb - 1), outline=colour, width=3)
        draw.text((margin, y + thumb + 2), f"person {p.person_index}", fill=(0, 0, 0), font=small)
        x = margin + crop.width + 2 * gap
        for m in p.matches:
            canvas.paste(thumbs.get(m.image_path), (x, y))
            draw.rectangle((x, y, x + thumb - 1, y + thumb - 1), outline=(180, 180, 180), width=1)
            draw.text((x, y + thumb + 2), f"#{m.rank}  score {m.score:.3f}", fill=(0, 0, 0), font=small)
            draw.text((x, y + thumb + 17), m.image_id, fill=(90, 90, 90), font=small)
            x += thumb + gap
        y += row_h
    return canvas


def write_video_report(
    report: VideoReport,
    out_dir: str | Path,
    *,
    thumb_size: int = 150,
    progress: Progress = NO_PROGRESS,
) -> VideoReportFiles:
    """Write ``matches.json``, ``matches.csv`` and one ``frame_NNNNNN.png`` per sampled frame.

    The frames are decoded again from ``report.video.path`` (a report holds no pixels).
    """
    import csv
    import json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / "matches.json", out / "matches.csv"
    json_path.write_text(json.dumps(report_to_dict(report), indent=2), encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        for row in report_rows(report):
            writer.writerow({**row, "box_xyxy": json.dumps(row["box_xyxy"])})
    wanted = {f.frame_index: f for f in report.frames}
    thumbs = _Thumbs(thumb_size)
    title = Path(report.video.path).name
    pngs: list[Path] = []
    if wanted:
        for frame in read_video_frames(report.video.path, report.every):
            matches = wanted.get(frame.frame_index)
            if matches is None:
                continue
            target = out / _png_name(frame.frame_index)
            render_frame(matches, frame.rgb, report.k, thumbs, title).save(target)
            pngs.append(target)
            progress.advance(1)
            if len(pngs) == len(wanted):
                break
    if len(pngs) != len(wanted):
        raise InvalidInputError(
            f"{report.video.path}: {len(wanted) - len(pngs)} of the report's frames are no longer in "
            "the video (was the file changed?)"
        )
    logger.info("wrote %s, %s and %d frame PNGs", json_path, csv_path, len(pngs))
    return VideoReportFiles(out, json_path, csv_path, tuple(pngs))
