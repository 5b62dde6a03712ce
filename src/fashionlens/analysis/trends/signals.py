"""The store as one tidy table of signals: one row per unit (a person in a photo, else the image).

Read from the `Catalog` tables ``images``, ``labels``, ``predictions``, ``people``, ``garments``
and ``segment_status``. Columns of `read_signals`:

- keys: ``unit_id``, ``unit`` (``person`` | ``image``), ``image_id``, ``source``, ``dataset``,
  ``split``, ``image_path``; group keys ``season``, ``year``, ``designer`` (catalogue attributes;
  empty when the source has none), ``article_type``;
- ``label_category`` (the labels' coarse category), ``probe_category``/``probe_confidence`` (the
  whole-image probe's prediction), ``garment_category`` (the seed's rule on the person's segmented
  garments, `GarmentRule`); ``category`` is the one chosen by `SignalOptions.category_from` and
  ``category_from`` says which;
- ``garments``: the garment classes present, ``|``-joined; ``share_<class>``: each class's share of
  the person's area (0 when absent); ``colour_<class>``: the dominant named colour of the person's
  largest region of that class (a catalogue item: its catalogue colour group, on its own class);
  ``silhouette``: ``dress`` | ``top+bottom`` | ``other``.

``category_from="auto"`` measures every photo of people (runway, street, video) with the same
instrument, the garments when the photo was segmented (the better street classifier, see
`benchmarks/bench_street_category.py`), else the probe, else its label; catalogue and wardrobe
items (one garment, no person) use their catalogue label, else the probe, else the garments.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fashionlens.analysis.trends.outfit import GarmentRule, class_shares, silhouette
from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import colour_group, modanet_categories
from fashionlens.store.catalog import Catalog

logger = logging.getLogger(__name__)

PEOPLE_DATASET = "fashionlens-people"  # person crops registered by `segment people`: not photos
PERSON_SOURCES = frozenset({"runway", "street", "video"})
CATEGORY_FROM = ("auto", "garments", "probe", "label")
GROUP_KEYS = ("source", "season", "year", "designer", "dataset")


def class_column(prefix: str, category: str) -> str:
    """``share_scarf_tie`` for ``("share", "scarf/tie")``."""
    return f"{prefix}_{category.replace('/', '_')}"


@dataclass(frozen=True)
class SignalOptions:
    """``category_from``: auto | garments | probe | label. ``segmenter_id``: whose garments to read
    (None: the segmenter with most garment rows). ``rule``: garment presence thresholds."""

    category_from: str = "auto"
    segmenter_id: str | None = None
    rule: GarmentRule = field(default_factory=GarmentRule)

    def __post_init__(self) -> None:
        if self.category_from not in CATEGORY_FROM:
            raise InvalidInputError(
                f"category_from must be one of {', '.join(CATEGORY_FROM)}; got {self.category_from!r}"
            )


def _attributes(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _label_rows(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """image_id -> the first label row with a coarse category (sorted by label_key), attributes parsed."""
    table = catalog.read("labels").to_pylist()
    table.sort(key=lambda r: (not r["coarse_category"], r["label_key"]))
    out: dict[str, dict[str, Any]] = {}
    for row in table:
        if row["image_id"] in out:
            continue
        attrs = _attributes(row["attributes_json"])
        article = str(attrs.get("articleType", "") or "")
        modanet = tuple(c for c in (row["modanet_categories"] or "").split("|") if c)
        colour = colour_group(str(attrs.get("baseColour", ""))) if attrs.get("baseColour") else None
        out[row["image_id"]] = {
            "label_category": row["coarse_category"] or "",
            "label_classes": modanet,
            "season": str(attrs.get("season", "") or ""),
            "year": str(attrs.get("year", "") or ""),
            "designer": str(attrs.get("designer", "") or attrs.get("brand", "") or ""),
            "article_type": article,
            "catalogue_colour": colour or "",
        }
    return out


def _probe_rows(catalog: Catalog) -> dict[str, tuple[str, float]]:
    rows = catalog.read("predictions", where="task = 'category'").to_pylist()
    if not rows:
        return {}
    counts = Counter(r["classifier_id"] for r in rows)
    chosen = counts.most_common(1)[0][0]
    if len(counts) > 1:
        logger.info("category predictions of %d classifiers; using %s", len(counts), chosen)
    return {r["image_id"]: (r["label"], float(r["confidence"])) for r in rows if r["classifier_id"] == chosen}


def _segmenter(catalog: Catalog, wanted: str | None) -> str | None:
    status = catalog.read("segment_status", where="task = 'garments'", columns=["segmenter_id"])
    ids = Counter(status.column("segmenter_id").to_pylist())
    if wanted is not None:
        if wanted not in ids:
            raise InvalidInputError(
                f"no photos segmented by {wanted!r}; segmented by: {sorted(ids) or 'none'}"
            )
        return wanted
    return ids.most_common(1)[0][0] if ids else None


def _units(catalog: Catalog, segmenter_id: str | None) -> dict[str, list[dict[str, Any]]]:
    """image_id -> its units: people with ``areas``/``colours`` per class, or one loose-garment unit."""
    if segmenter_id is None:
        return {}
    seg = f"segmenter_id = '{segmenter_id}'"
    done = catalog.read("segment_status", where=f"task = 'garments' AND {seg}", columns=["image_id"])
    units: dict[str, list[dict[str, Any]]] = {i: [] for i in done.column("image_id").to_pylist()}
    people = catalog.read("people", where=seg, columns=["person_key", "image_id", "area"]).to_pylist()
    by_key: dict[str, dict[str, Any]] = {}
    for p in sorted(people, key=lambda r: r["person_key"]):
        if p["image_id"] not in units:
            continue
        unit = {
            "unit_id": p["person_key"],
            "unit": "person",
            "person_area": int(p["area"]),
            "areas": {},
            "colours": {},
        }
        units[p["image_id"]].append(unit)
        by_key[p["person_key"]] = unit
    garments = catalog.read(
        "garments", where=seg, columns=["image_id", "person_key", "category", "area", "colour"]
    ).to_pylist()
    loose: dict[str, dict[str, Any]] = {}
    largest: dict[tuple[str, str], int] = {}
    for g in garments:
        if g["image_id"] not in units:
            continue
        worn = by_key.get(g["person_key"] or "")
        if worn is not None:
            unit = worn
        else:
            if any(u["unit"] == "person" for u in units[g["image_id"]]):
                continue  # a garment outside every person of a photo of people: not worn
            unit = loose.setdefault(
                g["image_id"],
                {"unit_id": g["image_id"], "unit": "image", "person_area": 0, "areas": {}, "colours": {}},
            )
        cat, area = str(g["category"]), int(g["area"])
        unit["areas"][cat] = unit["areas"].get(cat, 0) + area
        key = (unit["unit_id"], cat)
        if area > largest.get(key, -1) and g["colour"]:
            largest[key] = area
            unit["colours"][cat] = g["colour"]
    for image_id, unit in loose.items():
        if not units[image_id]:
            units[image_id].append(unit)
    return units


def _choose(source: str, how: str, garments: str, probe: str, label: str) -> tuple[str, str]:
    order = {
        "garments": ("garments",),
        "probe": ("probe",),
        "label": ("label",),
    }.get(how) or (
        ("garments", "probe", "label") if source in PERSON_SOURCES else ("label", "probe", "garments")
    )
    values = {"garments": garments, "probe": probe, "label": label}
    for name in order:
        if values[name]:
            return values[name], name
    return "", ""


def read_signals(catalog: Catalog, options: SignalOptions | None = None) -> pd.DataFrame:
    """The tidy per-unit signals table (see the module doc); an empty catalogue gives no rows."""
    options = options or SignalOptions()
    classes = modanet_categories()
    images = [r for r in catalog.read("images").to_pylist() if r["original_dataset"] != PEOPLE_DATASET]
    labels = _label_rows(catalog)
    probes = _probe_rows(catalog)
    segmenter_id = _segmenter(catalog, options.segmenter_id)
    units = _units(catalog, segmenter_id)
    rows = []
    for img in sorted(images, key=lambda r: r["image_id"]):
        image_id = img["image_id"]
        lab = labels.get(image_id, {})
        probe_label, probe_conf = probes.get(image_id, ("", float("nan")))
        base = {
            "image_id": image_id,
            "source": img["source"],
            "dataset": img["original_dataset"],
            "split": img["split"],
            "image_path": img["image_path"],
            "season": lab.get("season", ""),
            "year": lab.get("year", ""),
            "designer": lab.get("designer", ""),
            "article_type": lab.get("article_type", ""),
            "label_category": lab.get("label_category", ""),
            "probe_category": probe_label,
            "probe_confidence": probe_conf,
            "segmented": image_id in units,
        }
        found: list[dict[str, Any]] = units.get(image_id) or []
        if not found:  # not segmented, or segmented with nothing found
            label_classes = tuple(lab.get("label_classes", ()))
            colours = {}
            if lab.get("catalogue_colour") and len(label_classes) == 1:
                colours[label_classes[0]] = lab["catalogue_colour"]
            found = [
                {"unit_id": image_id, "unit": "image", "person_area": 0, "areas": None, "colours": colours}
            ]
        for unit in found:
            row = dict(base, unit_id=unit["unit_id"], unit=unit["unit"])
            if unit["areas"] is not None:
                shares = class_shares(unit["areas"], unit["person_area"])
                present = options.rule.present(shares)
                row["garment_category"] = options.rule.category(shares)
                row["garments"] = "|".join(present)
                row["silhouette"] = silhouette(present)
            else:
                shares = {}
                label_classes = tuple(lab.get("label_classes", ()))
                row["garment_category"] = ""
                row["garments"] = ""
                row["silhouette"] = silhouette(label_classes) if label_classes else ""
            for c in classes:
                row[class_column("share", c)] = float(shares.get(c, 0.0))
                row[class_column("colour", c)] = unit["colours"].get(c, "")
            row["category"], row["category_from"] = _choose(
                img["source"],
                options.category_from,
                row["garment_category"],
                probe_label,
                base["label_category"],
            )
            rows.append(row)
    frame = pd.DataFrame(rows)
    logger.info("signals: %d units from %d images (segmenter %s)", len(frame), len(images), segmenter_id)
    return frame


SIGNALS = ("category", "garment", "colour", "articleType", "silhouette")


def signal_values(signals: pd.DataFrame, signal: str, *, garment: str = "top") -> tuple[pd.DataFrame, bool]:
    """``(frame, multi)``: rows ``unit_id, value`` plus every other column of ``signals``.

    ``category``/``silhouette``/``articleType``: one value per unit (units without one are left
    out). ``garment``: one row per garment class a unit wears (``multi`` is True: a unit counts in
    several values). ``colour``: the colour of ``garment`` (a class, or ``any``: every class's
    colour, multi) on the units that wear it.
    """
    if signal not in SIGNALS:
        raise InvalidInputError(f"signal must be one of {', '.join(SIGNALS)}; got {signal!r}")
    if signals.empty:
        return signals.assign(value=pd.Series(dtype=str)), False
    if signal in ("category", "silhouette", "articleType"):
        column = {"articleType": "article_type"}.get(signal, signal)
        out = signals.assign(value=signals[column].fillna("").astype(str))
        return out[out["value"] != ""], False
    if signal == "garment":
        exploded = signals.assign(value=signals["garments"].fillna("").str.split("|")).explode("value")
        return exploded[exploded["value"].fillna("") != ""], True
    if garment == "any":
        parts = [signals.assign(value=signals[class_column("colour", c)]) for c in modanet_categories()]
        out = pd.concat(parts, ignore_index=True)
        out = out[out["value"].fillna("") != ""].drop_duplicates(["unit_id", "value"])
        return out, True
    if garment not in modanet_categories():
        raise InvalidInputError(
            f"garment must be 'any' or one of {', '.join(modanet_categories())}; got {garment!r}"
        )
    out = signals.assign(value=signals[class_column("colour", garment)].fillna("").astype(str))
    return out[out["value"] != ""], False


def counts_by(
    values: pd.DataFrame, by: str, signals: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """``(counts, totals)``: the ``(group x value)`` table of units, and the units per group (for a
    multi-valued signal, the units of ``signals`` that carry any value, per group)."""
    if by not in GROUP_KEYS:
        raise InvalidInputError(f"by must be one of {', '.join(GROUP_KEYS)}; got {by!r}")
    keyed = values[values[by].fillna("").astype(str) != ""]
    if keyed.empty:
        return pd.DataFrame(), pd.Series(dtype=int)
    counts = keyed.groupby([by, "value"])["unit_id"].nunique().unstack(fill_value=0)
    counts.index = counts.index.astype(str)
    totals = keyed.groupby(by)["unit_id"].nunique()
    totals.index = totals.index.astype(str)
    counts = counts.loc[
        sorted(counts.index), sorted(counts.columns, key=lambda c: (-counts[c].sum(), str(c)))
    ]
    return counts.astype(int), totals.reindex(counts.index).astype(int)


def coverage(signals: pd.DataFrame, by: str) -> pd.DataFrame:
    """How each group's ``category`` was measured: units per ``category_from`` (garments/probe/label/none)."""
    if signals.empty:
        return pd.DataFrame()
    keyed = signals[signals[by].fillna("").astype(str) != ""]
    table = keyed.assign(how=keyed["category_from"].replace("", "none")).groupby([by, "how"]).size()
    return table.unstack(fill_value=0).astype(int)
