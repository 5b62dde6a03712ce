"""One outfit (a person) from its segmented garments: which classes are present, the coarse category.

The coarse category is the seed's rule (`fashionlens.core.labels.coarse_category`: dress ->
dress; outer -> outerwear; top + bottoms -> top+bottom; ...) applied to the garment classes a
segmenter finds on a person. A class counts as present when its pixels cover at least
``min_share`` of the person's area (its share), so a few stray pixels do not turn a top and
jeans into "outerwear". The thresholds were chosen on CCP's 804 segmentation-training photos
(`benchmarks/bench_street_category.py --tune`), never on the held-out photos it reports on.

Pure numpy, except `outfits_from_segmentation`, which uses the people finder of the segmenters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import BOTTOMS, coarse_category, modanet_categories

DEFAULT_MIN_SHARE = 0.12
"""A class is present when it covers this share of the person (tuned on CCP's training photos)."""

DEFAULT_CLASS_MIN_SHARE: dict[str, float] = {
    "dress": 0.25,
    "outer": 0.02,
    "top": 0.0,
    "pants": 0.0,
    "skirt": 0.0,
    "shorts": 0.0,
}
"""Per-class overrides of `DEFAULT_MIN_SHARE`, tuned the same way: a dress must cover a quarter of
the person (the U-Net takes long tops for dresses), any visible outer layer counts (CCP labels a
vest over a top as outerwear), and any top or bottom pixels count (the rule needs both)."""


@dataclass(frozen=True)
class GarmentRule:
    """How garment shares become a set of classes: ``min_share``, with per-class overrides."""

    min_share: float = DEFAULT_MIN_SHARE
    class_min_share: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CLASS_MIN_SHARE))

    def __post_init__(self) -> None:
        known = set(modanet_categories())
        unknown = set(self.class_min_share) - known
        if unknown:
            raise InvalidInputError(
                f"class_min_share names unknown classes {sorted(unknown)}; known {sorted(known)}"
            )
        for name, value in [("min_share", self.min_share), *self.class_min_share.items()]:
            if not 0.0 <= float(value) < 1.0:
                raise InvalidInputError(f"garment share threshold {name} must be in [0, 1); got {value}")

    def threshold(self, category: str) -> float:
        return float(self.class_min_share.get(category, self.min_share))

    def present(self, shares: Mapping[str, float]) -> tuple[str, ...]:
        """The classes whose share reaches their threshold (sorted); a share of 0 never counts."""
        return tuple(sorted(c for c, s in shares.items() if s > 0 and s >= self.threshold(c)))

    def category(self, shares: Mapping[str, float]) -> str:
        """The seed's coarse category of the classes present."""
        return coarse_category(self.present(shares))


def silhouette(classes: tuple[str, ...] | set[str] | frozenset[str]) -> str:
    """``dress`` (a dress or jumpsuit), ``top+bottom`` (a top with pants/shorts/skirt), else ``other``."""
    cats = set(classes)
    if "dress" in cats:
        return "dress"
    if "top" in cats and cats & BOTTOMS:
        return "top+bottom"
    return "other"


def class_shares(areas: Mapping[str, float], person_area: float) -> dict[str, float]:
    """Garment area per class divided by the person's area (both in pixels); capped at 1."""
    if person_area <= 0:
        total = sum(areas.values())
        person_area = total if total > 0 else 1.0
    return {c: min(1.0, float(a) / float(person_area)) for c, a in areas.items() if a > 0}


@dataclass(frozen=True)
class Outfit:
    """One person: pixel ``person_area`` and the garment pixels per class (``areas``)."""

    person_area: int
    areas: dict[str, int]

    @property
    def shares(self) -> dict[str, float]:
        return class_shares(self.areas, self.person_area)


def outfits_from_segmentation(seg: np.ndarray, confidence: np.ndarray | None = None) -> list[Outfit]:
    """The outfits of one photo from a `seg_classes` map, as `segment garments` stores them.

    People come from `find_people`, garments from `semantic_to_instances`; each garment goes to the
    person it overlaps most (garments on no person are pooled into one outfit of their own, whose
    person area is the garments' area). Same arithmetic as the ``garments``/``people`` tables.
    """
    from fashionlens.core.segmentation import semantic_to_instances
    from fashionlens.models.segmenters.people import find_people  # lazy: segmenters may move

    seg = np.asarray(seg)
    if seg.ndim != 2:
        raise InvalidInputError(f"segmentation map must be 2-D (h, w); got shape {seg.shape}")
    people = find_people(seg, confidence)
    garments = semantic_to_instances(seg, confidence)
    per_person: list[dict[str, int]] = [{} for _ in range(len(people))]
    loose: dict[str, int] = {}
    names = garments.categories
    for i in range(len(garments)):
        mask = garments.masks[i]
        overlap = [int((mask & pm).sum()) for pm in people.masks]
        target = per_person[int(np.argmax(overlap))] if overlap and max(overlap) > 0 else loose
        target[names[i]] = target.get(names[i], 0) + int(mask.sum())
    out = [Outfit(int(people.masks[k].sum()), per_person[k]) for k in range(len(people))]
    if loose:
        out.append(Outfit(0, loose))
    return out


def photo_outfit(outfits: list[Outfit]) -> Outfit:
    """All outfits of a photo as one (areas summed): the photo-level view of a one-person photo."""
    areas: dict[str, int] = {}
    for o in outfits:
        for c, a in o.areas.items():
            areas[c] = areas.get(c, 0) + a
    return Outfit(sum(o.person_area for o in outfits), areas)
