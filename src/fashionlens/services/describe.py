"""Describe one image: attributes, dominant colours, coarse category, people and garments, overlay.

Three pieces, each usable on its own (the server batches the first across requests):

- `AttributePredictor`: a backbone plus the trained multi-head attribute classifier. One call
  embeds a batch of PIL images and returns, per image, its vector, the label and the confidence of
  every head (articleType, baseColour group, season, gender, usage). The colour head's extra
  feature (a Lab histogram) is computed from the image in memory, never from a file.
- `segment_image`: the U-Net's per-pixel classes become people (`find_people`, touching people
  split by a person detector when one is given) and garments (`semantic_to_instances`), or the
  garments of an instance model (Mask R-CNN) when one is given.
- `Describer.describe`: both of the above plus the dominant named colours of the image (studio
  background ignored), of each garment, a coarse category, masks as COCO RLE and an overlay PNG.

The coarse category comes from the garments when a person fills at least `PERSON_PHOTO_FRAC` of
the image (`coarse_category` of the garment classes: a street or runway photo), else from the
predicted articleType through ``products_to_modanet`` (a product shot: the U-Net may see a small
"person" in a folded garment, and the article type names the garment better).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import coarse_category, map_to_modanet
from fashionlens.core.segmentation import GarmentInstances, People, mask_to_rle, semantic_to_instances

logger = logging.getLogger(__name__)

MIN_SEGMENT_SIDE = 32  # smaller images are too small for the U-Net: no people, no garments
PERSON_PHOTO_FRAC = 0.10  # a person this large makes the photo a photo of a person wearing garments


@dataclass(frozen=True)
class ImageAttributes:
    """One image's backbone vector ``float32 (D,)`` and its attribute labels and confidences."""

    vector: np.ndarray
    predictions: dict[str, str]
    confidences: dict[str, float]
    model_id: str  # the backbone's stored model id (the vector's embedding space)


class AttributePredictor:
    """Backbone + `AttributeClassifier`: PIL images -> `ImageAttributes` (one call per batch).

    ``chunk``: images taken through the backbone and the colour descriptor together before the
    next ones (None: all at once). The classifier always sees the whole batch. A small chunk keeps
    one image's pixels in the CPU cache from decoding to its vector: on a CPU with a small L2 cache
    (this project's 2-core machine) one image at a time is the fastest per image.
    """

    def __init__(
        self, backbone: Any, classifier: Any, *, chunk: int | None = None, attribute_backbone: Any = None
    ) -> None:
        """``attribute_backbone``: the backbone of the classifier's own space when it is not
        ``backbone``'s (a fine-tuned one): the vector then comes from ``backbone`` (for search)
        and the attributes from ``attribute_backbone`` (two passes per image)."""
        if chunk is not None and chunk < 1:
            raise InvalidInputError(f"chunk must be >= 1; got {chunk}")
        self.chunk = chunk
        self.attribute_backbone = attribute_backbone if attribute_backbone is not None else backbone
        if int(classifier.config.input_dim) != int(self.attribute_backbone.dim):
            raise InvalidInputError(
                f"attribute classifier {classifier.classifier_id} expects {classifier.config.input_dim}-d "
                f"vectors; backbone {self.attribute_backbone.model_id} makes "
                f"{self.attribute_backbone.dim}-d ones"
            )
        if classifier.config.extra_dim:
            from fashionlens.models.colour.features import FEATURE_ID

            if classifier.config.extra_feature != FEATURE_ID:
                raise InvalidInputError(
                    f"the classifier was trained with {classifier.config.extra_feature!r} features; "
                    f"this version computes {FEATURE_ID!r}: retrain with `fashionlens train attributes`"
                )
        self.backbone = backbone
        self.classifier = classifier

    @property
    def classifier_id(self) -> str:
        return str(self.classifier.classifier_id)

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(self.classifier.heads)

    def setup(self) -> None:
        self.backbone.setup()
        self.attribute_backbone.setup()

    def predict(self, images: Sequence[Any]) -> list[ImageAttributes]:
        """Attributes of RGB PIL images, in order (an empty list for no images)."""
        if not images:
            return []
        from fashionlens.models.colour.features import colour_descriptor

        step = self.chunk or len(images)
        vectors, attribute_vectors, extras = [], [], []
        two_spaces = self.attribute_backbone is not self.backbone
        for start in range(0, len(images), step):
            part = list(images[start : start + step])
            vectors.append(self.backbone.embed(part))
            if two_spaces:
                attribute_vectors.append(self.attribute_backbone.embed(part))
            if self.classifier.config.extra_dim:
                extras += [colour_descriptor(im) for im in part]
        extra = np.stack(extras).astype(np.float32) if extras else None
        all_vectors = np.concatenate(vectors)
        seen = np.concatenate(attribute_vectors) if two_spaces else all_vectors
        records = self.classifier.predict(seen, extra).records()
        model_id = str(self.backbone.model_id)
        return [
            ImageAttributes(v, dict(r["predictions"]), dict(r["confidences"]), model_id)
            for v, r in zip(all_vectors, records, strict=True)
        ]


# -- segmentation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Segmentation:
    """People and garments found in one image of ``size_hw``, and which model found them."""

    people: People
    garments: GarmentInstances
    segmenter_id: str

    @property
    def size_hw(self) -> tuple[int, int]:
        return int(self.people.masks.shape[1]), int(self.people.masks.shape[2])


def segment_image(
    rgb: np.ndarray, segmenter: Any, *, detector: Any = None, instances: Any = None
) -> Segmentation:
    """People (from ``segmenter``'s semantic map) and garments (from the map, or from ``instances``,
    an instance model such as `MaskRCNNSegmenter`) of one ``uint8 (H, W, 3)`` image."""
    from fashionlens.models.segmenters.people import find_people

    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InvalidInputError(f"expected a uint8 (H, W, 3) image; got {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SEGMENT_SIDE:
        return Segmentation(
            People.empty((h, w)), GarmentInstances.empty((h, w)), _seg_id(segmenter, instances)
        )
    seg, conf = segmenter.predict([rgb])[0]
    detect = (lambda: detector.detect(rgb).xyxy) if detector is not None else None
    people = find_people(seg, conf, detect=detect)
    garments = instances.predict([rgb])[0] if instances is not None else semantic_to_instances(seg, conf)
    return Segmentation(people, garments, _seg_id(segmenter, instances))


def _seg_id(segmenter: Any, instances: Any) -> str:
    if instances is not None:
        return str(instances.model_id)
    return str(segmenter.model_id)


# -- describe ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DescribeOptions:
    colours_k: int = 4  # colour clusters of the whole image
    garment_colours_k: int = 3
    segment: bool = True  # people and garments (needs a segmenter)
    overlay: bool = True  # an overlay PNG of the people and garments
    masks: bool = True  # masks as COCO RLE in the result

    def __post_init__(self) -> None:
        for name in ("colours_k", "garment_colours_k"):
            value = getattr(self, name)
            if not 1 <= value <= 12:
                raise InvalidInputError(f"{name} must be in 1..12; got {value}")


@dataclass(frozen=True)
class Colour:
    name: str
    share: float
    hex: str
    rgb: tuple[int, int, int]


@dataclass(frozen=True)
class PersonResult:
    index: int
    box_xyxy: tuple[float, float, float, float]
    score: float
    area: int
    mask_rle: dict[str, Any] | None


@dataclass(frozen=True)
class GarmentResult:
    index: int
    category: str
    score: float
    box_xyxy: tuple[float, float, float, float]
    area: int
    person: int | None  # the person it overlaps most, if any
    colours: list[Colour]
    mask_rle: dict[str, Any] | None


@dataclass
class Description:
    width: int
    height: int
    attributes: ImageAttributes | None
    colours: list[Colour]
    category: str
    category_source: str  # garments | articleType | none
    people: list[PersonResult] = field(default_factory=list)
    garments: list[GarmentResult] = field(default_factory=list)
    segmenter_id: str = ""
    overlay_png: bytes | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def named_colours(image: Any, mask: Any = None, k: int = 4) -> list[Colour]:
    """The dominant named colours of an image (or of a mask region), largest share first."""
    from fashionlens.models.colour.naming import dominant_colours

    return [
        Colour(c.name, round(float(c.share), 4), c.hex, tuple(int(v) for v in c.rgb))  # type: ignore[arg-type]
        for c in dominant_colours(image, mask, k=k)
    ]


def _box(xyxy: np.ndarray) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (round(float(v), 1) for v in xyxy)
    return x1, y1, x2, y2


def people_results(people: People, masks: bool = True) -> list[PersonResult]:
    return [
        PersonResult(
            i,
            _box(people.xyxy[i]),
            round(float(people.scores[i]), 4),
            int(people.masks[i].sum()),
            mask_to_rle(people.masks[i]) if masks else None,
        )
        for i in range(len(people))
    ]


def garment_results(
    rgb: np.ndarray, garments: GarmentInstances, people: People, *, colours_k: int = 3, masks: bool = True
) -> list[GarmentResult]:
    """Per garment: category, score, box, area, the person it overlaps most, its named colours
    (``colours_k`` clusters; 0: none) and its RLE mask."""
    out = []
    for i in range(len(garments)):
        mask = garments.masks[i]
        overlap = [int((mask & pm).sum()) for pm in people.masks]
        person = int(np.argmax(overlap)) if overlap and max(overlap) > 0 else None
        x1, y1, x2, y2 = (int(v) for v in garments.xyxy[i])
        box = (slice(y1, max(y2, y1 + 1)), slice(x1, max(x2, x1 + 1)))
        colours = named_colours(rgb[box], mask[box], colours_k) if colours_k and mask[box].any() else []
        out.append(
            GarmentResult(
                i,
                garments.categories[i],
                round(float(garments.scores[i]), 4),
                _box(garments.xyxy[i]),
                int(mask.sum()),
                person,
                colours,
                mask_to_rle(mask) if masks else None,
            )
        )
    return out


def category_of(attributes: ImageAttributes | None, segmentation: Segmentation | None) -> tuple[str, str]:
    """``(coarse category, where it came from)``: garments on a person, else the articleType."""
    if segmentation is not None and len(segmentation.people) and len(segmentation.garments):
        h, w = segmentation.size_hw
        largest = max(int(m.sum()) for m in segmentation.people.masks)
        if largest >= PERSON_PHOTO_FRAC * h * w:
            return coarse_category(segmentation.garments.categories), "garments"
    article = (attributes.predictions.get("articleType") if attributes is not None else None) or ""
    if article:
        return coarse_category(map_to_modanet([article], "products")), "articleType"
    return "other", "none"


def png_bytes(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


class Describer:
    """Everything about one image. ``attributes`` maps a PIL image to its `ImageAttributes` (an
    `AttributePredictor` call, or the server's batcher in front of one); ``segmenter`` is a semantic
    garment segmenter (the U-Net); ``detector`` splits touching people; ``instances`` an optional
    instance model used for the garments instead of the semantic map."""

    def __init__(
        self,
        attributes: Callable[[Any], ImageAttributes] | None,
        segmenter: Any = None,
        *,
        detector: Any = None,
        instances: Any = None,
    ) -> None:
        self.attributes = attributes
        self.segmenter = segmenter
        self.detector = detector
        self.instances = instances

    def segment(self, image: Any, *, use_instances: bool = False) -> Segmentation:
        """People and garments of a PIL image (U-Net garments, or the instance model's)."""
        from fashionlens.ingest.images import to_rgb_array

        if self.segmenter is None:
            raise InvalidInputError("no garment segmenter is configured")
        if use_instances and self.instances is None:
            raise InvalidInputError("no Mask R-CNN checkpoint is configured")
        rgb = to_rgb_array(image)
        return segment_image(
            rgb,
            self.segmenter,
            detector=self.detector,
            instances=self.instances if use_instances else None,
        )

    def describe(self, image: Any, options: DescribeOptions | None = None) -> Description:
        """Attributes, colours, category, people and garments (with RLE masks) and an overlay PNG."""
        from fashionlens.ingest.images import to_rgb_array

        options = options or DescribeOptions()
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        rgb = to_rgb_array(image)
        h, w = rgb.shape[:2]
        attributes = self.attributes(image) if self.attributes is not None else None
        t1 = time.perf_counter()
        seconds["attributes"] = round(t1 - t0, 4)
        colours = named_colours(rgb, k=options.colours_k)
        t2 = time.perf_counter()
        seconds["colours"] = round(t2 - t1, 4)
        segmentation = None
        if options.segment and self.segmenter is not None:
            segmentation = segment_image(
                rgb, self.segmenter, detector=self.detector, instances=self.instances
            )
        t3 = time.perf_counter()
        seconds["segment"] = round(t3 - t2, 4)
        category, source = category_of(attributes, segmentation)
        out = Description(w, h, attributes, colours, category, source)
        if segmentation is not None:
            out.segmenter_id = segmentation.segmenter_id
            out.people = people_results(segmentation.people, options.masks)
            out.garments = garment_results(
                rgb,
                segmentation.garments,
                segmentation.people,
                colours_k=options.garment_colours_k,
                masks=options.masks,
            )
            if options.overlay:
                from fashionlens.render.overlay import render_overlay

                out.overlay_png = png_bytes(render_overlay(rgb, segmentation.people, segmentation.garments))
        seconds["garments_overlay"] = round(time.perf_counter() - t3, 4)
        out.seconds = seconds
        return out


def zero_shot_labels(
    image: Any, backbone: Any, labels: Sequence[str], template: str = "a photo of a {label}"
) -> list[tuple[str, float]]:
    """Every label with its cosine score against the image, best first (ties in the given order),
    from a backbone with a text tower: one prompt per label, ``template`` with ``{label}`` replaced."""
    names = [str(label).strip() for label in labels if str(label).strip()]
    if len(names) < 2:
        raise InvalidInputError(f"zero-shot needs at least two labels; got {names}")
    if "{label}" not in template:
        raise InvalidInputError(f"the template must contain {{label}}; got {template!r}")
    if not getattr(backbone, "has_text", False):
        raise InvalidInputError(f"backbone {backbone.model_id} has no text tower")
    prompts = [template.replace("{label}", n) for n in names]  # other braces are plain text
    text = np.asarray(backbone.embed_text(prompts), dtype=np.float32)
    vector = np.asarray(backbone.embed([image]), dtype=np.float32)[0]
    scores = text @ vector
    order = np.argsort(-scores, kind="stable")
    return [(names[i], round(float(scores[i]), 4)) for i in order]
