"""From a photo to garments: masks, classes, crops on white, colours, vectors, attributes.

`Digitiser.garments` segments one photo with the U-Net garment parser:

- **a street or mirror photo** (default): people are found in the semantic map (`find_people`), and
  the connected regions of each garment class (`semantic_to_instances`) that overlap the same person
  are merged into one garment (two shoes are one pair; a coat split by an arm is one coat). Garments
  under `MIN_GARMENT_FRAC` of the photo are dropped (slivers of a misread class);
- **one garment** (``single``: flat lay, hanger, product shot): the garment is every pixel the U-Net
  does not call background, holes filled (or, when the U-Net finds less than 3% of the photo, the
  photo minus its studio background, `foreground_mask`). Its class comes from the single-garment
  probe (a linear probe on the crop's vector, trained on the clothing dataset's photos of people's
  own garments, shipped for the default backbone: ``benchmarks/bench_wardrobe.py --ship``), else
  from the attribute classifier's article type, else from the U-Net's majority garment class; the
  caller can give it instead.

`Digitiser.describe` cuts each garment out on white (`cutout_on_white`), names its colours over its
own pixels (`dominant_colours`, with Lab), embeds the crop (the settings' backbone) and, with the
attribute classifier for that backbone (one ships for the default), predicts its article type (kept
only when it names the garment's own class), season and usage (kept at confidence >= 0.5).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import FashionlensError
from fashionlens.core.labels import label_maps, modanet_categories
from fashionlens.core.segmentation import BACKGROUND, GARMENT_OFFSET, mask_to_rle, semantic_to_instances
from fashionlens.core.settings import Settings

logger = logging.getLogger(__name__)

MIN_GARMENT_FRAC = 0.004  # garments under 0.4% of the photo are slivers
SINGLE_MIN_FOREGROUND = 0.03
CROP_MARGIN = 0.02
ATTRIBUTE_MIN_CONFIDENCE = 0.5  # season / usage from the attribute classifier below this are left out
SINGLE_PROBE = "wardrobe_single_garment"  # <name>.<backbone>.npz: garment class of one-garment photos
USAGE_TO_FORMALITY = {
    "casual": "casual",
    "sports": "sport",
    "formal": "formal",
    "smart casual": "smart",
    "party": "party",
    "ethnic": "ethnic",
    "travel": "travel",
}


@dataclass
class FoundGarment:
    """One garment of a photo: full-photo mask, ModaNet class, score, and (after `describe`) the rest."""

    index: int
    mask: np.ndarray
    category: str
    score: float
    crop: np.ndarray | None = None
    colours: list[dict[str, Any]] = field(default_factory=list)
    embedding: np.ndarray | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def bbox_xyxy(self) -> list[float]:
        from fashionlens.core.segmentation import mask_to_xyxy

        return [float(v) for v in mask_to_xyxy(self.mask)]

    def mask_rle(self) -> dict[str, Any]:
        return mask_to_rle(self.mask)


class Digitiser:
    """The models `Wardrobe.add` needs, loaded on first use (any of them can be handed in)."""

    def __init__(
        self,
        settings: Settings,
        *,
        segmenter: Any = None,
        backbone: Any = None,
        detector: Any = None,
        classifier: Any = "auto",
    ) -> None:
        self.settings = settings
        self._segmenter = segmenter
        self._backbone = backbone
        self._detector = detector
        self._detector_checked = detector is not None
        self._classifier = classifier
        self._probe: Any = None

    @property
    def segmenter(self) -> Any:
        if self._segmenter is None:
            from fashionlens.models import factory

            self._segmenter = factory.unet(self.settings)
        return self._segmenter

    @property
    def backbone(self) -> Any:
        if self._backbone is None:
            from fashionlens.models import factory

            self._backbone = factory.backbone(self.settings)
        return self._backbone

    @property
    def detector(self) -> Any:
        if not self._detector_checked:
            from fashionlens.models import factory

            self._detector = factory.person_detector(self.settings)
            self._detector_checked = True
        return self._detector

    @property
    def classifier(self) -> Any:
        """The attribute classifier for the backbone, or None when none is trained."""
        if isinstance(self._classifier, str) and self._classifier == "auto":
            from fashionlens.models import factory

            try:
                self._classifier = factory.attribute_classifier(self.settings, self.backbone.model_id)
            except (FashionlensError, OSError) as exc:
                logger.info(
                    "no attribute classifier for %s (%s): attributes left empty", self.backbone.model_id, exc
                )
                self._classifier = None
        return self._classifier

    # -- segmentation ------------------------------------------------------------------------------
    def garments(self, rgb: np.ndarray, *, single: bool = False, category: str = "") -> list[FoundGarment]:
        seg, conf = self.segmenter.predict([rgb])[0]
        if single:
            return [self._single(rgb, seg, conf, category)]
        from fashionlens.models.segmenters.people import find_people

        detector = self.detector
        detect = (lambda: detector.detect(rgb).xyxy) if detector is not None else None
        people = find_people(seg, conf, detect=detect)
        inst = semantic_to_instances(seg, conf)
        groups: dict[tuple[int, int], list[int]] = {}
        for i in range(len(inst)):
            overlap = [int((inst.masks[i] & pm).sum()) for pm in people.masks]
            person = int(np.argmax(overlap)) if overlap and max(overlap) > 0 else -1
            groups.setdefault((person, int(inst.class_id[i])), []).append(i)
        names = modanet_categories()
        min_area = MIN_GARMENT_FRAC * seg.size
        found = []
        for (person, cls), idx in sorted(groups.items()):
            mask = np.logical_or.reduce([inst.masks[i] for i in idx])
            area = int(mask.sum())
            if area < min_area:
                continue
            score = float(sum(inst.scores[i] * inst.masks[i].sum() for i in idx) / max(area, 1))
            found.append((person, float(np.flatnonzero(mask.any(0))[0]), names[cls], mask, score))
        found.sort(key=lambda f: (f[0], f[1], f[2]))  # per person, left to right
        return [FoundGarment(k, m, c, s) for k, (_, _, c, m, s) in enumerate(found)]

    def _single(self, rgb: np.ndarray, seg: np.ndarray, conf: np.ndarray, category: str) -> FoundGarment:
        from scipy import ndimage

        from fashionlens.models.colour.naming import foreground_mask

        mask = seg != BACKGROUND
        if mask.mean() < SINGLE_MIN_FOREGROUND:
            mask = foreground_mask(rgb, "auto")
        mask = ndimage.binary_fill_holes(mask)
        garment = seg[mask & (seg >= GARMENT_OFFSET)]
        guess = ""
        if garment.size:
            guess = modanet_categories()[int(np.bincount(garment - GARMENT_OFFSET).argmax())]
        score = float(conf[mask].mean()) if mask.any() else 0.0
        attributes = {"unet_category": guess, "single": True, "category_given": bool(category)}
        return FoundGarment(0, mask, category or guess, score, attributes=attributes)

    # -- description ----------------------------------------------------------------------------------
    def describe(self, rgb: np.ndarray, garments: Sequence[FoundGarment], crop_paths: Sequence[Path]) -> None:
        """Crop (written to ``crop_paths``), colours, vector and attributes of each garment, in place."""
        if not garments:
            return
        for g, path in zip(garments, crop_paths, strict=True):
            write_atomic(path, png_bytes(self.crop_and_colour(rgb, g)))
        vectors = self.embed([g.crop for g in garments if g.crop is not None])
        for g, v in zip(garments, vectors, strict=True):
            g.embedding = v
        self._classify_single(garments)
        clf = self.classifier
        if clf is not None:
            self._attributes(clf, garments, [str(p) for p in crop_paths])

    def crop_and_colour(self, rgb: np.ndarray, g: FoundGarment) -> np.ndarray:
        """Set the garment's crop on white and its colours; returns the crop."""
        from fashionlens.models.colour.naming import dominant_colours
        from fashionlens.models.segmenters.people import cutout_on_white

        g.crop = cutout_on_white(rgb, g.mask, margin_frac=CROP_MARGIN)
        ys, xs = np.flatnonzero(g.mask.any(1)), np.flatnonzero(g.mask.any(0))
        box = (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))
        g.colours = [
            {"name": c.name, "share": round(c.share, 4), "lab": [round(v, 2) for v in c.lab], "hex": c.hex}
            for c in dominant_colours(rgb[box], g.mask[box], k=3)
        ]
        return g.crop

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        from PIL import Image

        return np.asarray(self.backbone.embed([Image.fromarray(c) for c in crops]), dtype=np.float32)

    def _attributes(self, clf: Any, garments: Sequence[FoundGarment], paths: list[str]) -> None:
        from fashionlens.models.heads.attributes import extra_features_for

        vectors = np.stack([g.embedding for g in garments if g.embedding is not None])
        try:
            extra = extra_features_for(clf, paths, None, self.settings.cache_dir)
            records = clf.predict(vectors, extra).records()
        except (FashionlensError, ValueError, TypeError) as exc:
            logger.warning("attribute classifier failed on these crops (%s): attributes left empty", exc)
            return
        to_modanet: dict[str, str] = label_maps()["products_to_modanet"]  # type: ignore[assignment]
        for g, rec in zip(garments, records, strict=True):
            g.attributes.update(rec)
            pred, conf = rec.get("predictions", {}), rec.get("confidences", {})
            article = str(pred.get("articleType") or "")
            if self._may_set_category(g) and article in to_modanet and not g.attributes.get("probe"):
                g.category = to_modanet[article]
            # the catalogue's article type only where it names the garment's own class
            g.attributes["article_type"] = article if to_modanet.get(article) == g.category else ""
            for name in ("season", "usage"):  # kept only when the classifier is fairly sure
                if float(conf.get(name, 0.0)) >= ATTRIBUTE_MIN_CONFIDENCE:
                    g.attributes[name] = str(pred.get(name) or "").lower()

    def _may_set_category(self, g: FoundGarment) -> bool:
        return bool(g.attributes.get("single")) and not g.attributes.get("category_given")

    @property
    def single_probe(self) -> Any:
        """The garment-class probe for one-garment photos (`SINGLE_PROBE`), or None for a backbone
        it was not trained on."""
        if self._probe is None:
            from fashionlens.models.heads.linear_probe import LinearProbe
            from fashionlens.models.registry import parse_model_id
            from fashionlens.models.weights import shipped_path

            base = parse_model_id(self.backbone.model_id)[0]
            own = self.settings.models_dir / "wardrobe" / f"{SINGLE_PROBE}.{base}.npz"
            path = own if own.is_file() else shipped_path(f"{SINGLE_PROBE}.{base}.npz")
            try:
                self._probe = LinearProbe.load(path)
            except FashionlensError as exc:
                logger.info("no single-garment probe for %s (%s)", base, exc)
                self._probe = False
        return self._probe or None

    def _classify_single(self, garments: Sequence[FoundGarment]) -> None:
        probe = self.single_probe
        todo = [g for g in garments if self._may_set_category(g) and g.embedding is not None]
        if probe is None or not todo:
            return
        labels, confidence, _ = probe.predict(
            np.stack([g.embedding for g in todo if g.embedding is not None])
        )
        for g, label, c in zip(todo, labels, confidence, strict=True):
            g.category = label
            g.attributes["probe"] = {"category": label, "confidence": round(float(c), 4)}


def png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{id(data)}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
