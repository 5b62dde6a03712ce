"""The people in one video frame, and the image of each one that gets embedded.

`fashionlens video --mode` picks one of two finders; both return `FramePerson` items:

- `BoxPeople` (``boxes``, the default): a person detector's boxes (OpenCV HOG), each padded by
  `CROP_PAD_FRAC` and cropped from the frame with its background;
- `CutoutPeople` (``cutouts``): the U-Net person path of `segment people` (`find_people`; the
  detector only splits a region wide enough to hold several people), each person cut out on
  white with `cutout_on_white`, exactly as `segment people` stores the people of catalogued
  photos, so both sides of a match are the same kind of image.

`people_finder` builds either from Settings. Nothing loads until ``setup()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.segmentation import mask_to_rle
from fashionlens.core.settings import Settings
from fashionlens.models.segmenters.people import cutout_on_white, cutout_xyxy, find_people
from fashionlens.models.segmenters.person_detector import PersonDetector, pad_xyxy

Mode = Literal["boxes", "cutouts"]
MODES: tuple[str, ...] = ("boxes", "cutouts")
CROP_PAD_FRAC = 0.08  # each person box grows by 8% of its size on every side before cropping
CUTOUT_MARGIN_FRAC = 0.05  # `cutout_on_white`'s margin, as `segment people` uses it


@dataclass(frozen=True)
class FramePerson:
    """One person in a frame: where (``box_xyxy``, ``score``), the pixel box ``crop_xyxy`` of the
    embedded image, the image itself (``uint8 (h, w, 3)``) and, for a cut-out, its frame-sized mask
    as COCO RLE JSON (empty for a box crop)."""

    box_xyxy: tuple[float, float, float, float]
    score: float
    crop_xyxy: tuple[int, int, int, int]
    image: np.ndarray
    mask_rle_json: str = ""

    @property
    def area(self) -> int:
        x1, y1, x2, y2 = self.crop_xyxy
        return (x2 - x1) * (y2 - y1)


class PeopleFinder(Protocol):
    mode: str

    @property
    def model_id(self) -> str: ...

    def setup(self) -> None: ...

    def find(self, rgb: np.ndarray) -> list[FramePerson]: ...


def crop_boxes(xyxy: np.ndarray, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Person boxes padded by `CROP_PAD_FRAC`, as whole pixels inside a ``width`` x ``height`` frame."""
    padded = pad_xyxy(xyxy, CROP_PAD_FRAC, width, height)
    out = []
    for x1, y1, x2, y2 in padded:
        ix1, iy1 = int(np.floor(x1)), int(np.floor(y1))
        ix2, iy2 = max(int(np.ceil(x2)), ix1 + 1), max(int(np.ceil(y2)), iy1 + 1)
        out.append((ix1, iy1, min(ix2, width), min(iy2, height)))
    return out


def _box(values: Any) -> tuple[float, float, float, float]:
    return (float(values[0]), float(values[1]), float(values[2]), float(values[3]))


class BoxPeople:
    """Detector boxes, padded, cropped with their background (``--mode boxes``)."""

    mode = "boxes"

    def __init__(self, detector: PersonDetector) -> None:
        self.detector = detector

    @property
    def model_id(self) -> str:
        return self.detector.model_id

    def setup(self) -> None:
        if hasattr(self.detector, "setup"):
            self.detector.setup()

    def find(self, rgb: np.ndarray) -> list[FramePerson]:
        found = self.detector.detect(rgb)
        height, width = rgb.shape[:2]
        crops = crop_boxes(found.xyxy, width, height)
        return [
            FramePerson(_box(box), float(score), crop, rgb[crop[1] : crop[3], crop[0] : crop[2]])
            for box, score, crop in zip(found.xyxy, found.scores, crops, strict=True)
        ]


class CutoutPeople:
    """People from a semantic segmenter's map, cut out on white (``--mode cutouts``).

    ``segmenter``: ``predict([rgb]) -> [(seg_classes map, confidence)]`` (the U-Net);
    ``detector``: optional, only consulted to split a region holding several people."""

    mode = "cutouts"

    def __init__(self, segmenter: Any, detector: PersonDetector | None = None) -> None:
        self.segmenter, self.detector = segmenter, detector

    @property
    def model_id(self) -> str:
        seg = str(self.segmenter.model_id)
        return seg if self.detector is None else f"{seg}+{self.detector.model_id}"

    def setup(self) -> None:
        for model in (self.segmenter, self.detector):
            if model is not None and hasattr(model, "setup"):
                model.setup()

    def find(self, rgb: np.ndarray) -> list[FramePerson]:
        seg, conf = self.segmenter.predict([rgb])[0]
        detector = self.detector
        detect = (lambda: detector.detect(rgb).xyxy) if detector is not None else None
        people = find_people(seg, conf, detect=detect)
        return [
            FramePerson(
                _box(people.xyxy[i]),
                float(people.scores[i]),
                cutout_xyxy(people.masks[i], CUTOUT_MARGIN_FRAC),
                cutout_on_white(rgb, people.masks[i], CUTOUT_MARGIN_FRAC),
                json.dumps(mask_to_rle(people.masks[i])),
            )
            for i in range(len(people))
        ]


def people_finder(settings: Settings, mode: str = "boxes") -> PeopleFinder:
    """The finder of ``mode`` with its models built from ``settings`` (nothing loads yet):
    ``boxes``: OpenCV's HOG detector; ``cutouts``: the shipped U-Net, HOG splitting wide regions."""
    from fashionlens.models import factory

    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    if mode == "cutouts":
        return CutoutPeople(factory.unet(settings), factory.person_detector(settings))
    from fashionlens.models.segmenters.person_detector import HogPersonDetector

    return BoxPeople(HogPersonDetector())
