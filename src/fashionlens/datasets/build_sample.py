"""Rebuild the shipped sample (``datasets/sample/``) from the full datasets. Maintainers only:

    python -m fashionlens.datasets.build_sample --data ../shared/data

- **street**: 60 Clothing Co-Parsing photos (Apache-2.0), every third of the 200 held-out photos
  of `ccp_pixel_split` (the shipped U-Net never trained on them), resized to 256x384, with one
  COCO box per CCP garment label around all its pixels (from the pixel maps) in
  ``street/ccp_sample.json`` (categories: CCP's own label names);
- **product**: 60 photos of the CC0 clothing dataset (6 per class from its validation split, by
  file name), longest side 256 px, each with one whole-photo box of its class in
  ``product/clothing_sample.json``.

Both are plain COCO files that `fashionlens ingest coco` / `run` read as they are.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.labels import label_maps
from fashionlens.ingest.ccp import PIXEL_DIR, ccp_label_names, ccp_pixel_split, load_ccp_mask
from fashionlens.ingest.images import open_rgb

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent / "sample"
STREET_SIZE_WH = (256, 384)
PRODUCT_MAX_SIDE = 256
PER_CLASS = 6
JPEG_QUALITY = 82


def _save(image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="JPEG", quality=JPEG_QUALITY, optimize=True)


def build_street(ccp: Path, out: Path, n: int = 60) -> dict:
    from PIL import Image

    names = ccp_label_names(ccp)
    garments: dict[str, str] = label_maps()["ccp_to_modanet"]  # type: ignore[assignment]
    _, held = ccp_pixel_split(ccp)
    stems = held[::3][:n]
    used = sorted(
        {names[i] for s in stems for i in np.unique(load_ccp_mask(ccp / PIXEL_DIR / f"{s}.mat"))}
        & set(garments)
    )
    cat_id = {name: i for i, name in enumerate(used, start=1)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    w, h = STREET_SIZE_WH
    for k, stem in enumerate(stems, start=1):
        photo = open_rgb(ccp / "photos" / f"{stem}.jpg")
        sx, sy = w / photo.width, h / photo.height
        _save(photo.resize((w, h), Image.Resampling.LANCZOS), out / "images" / f"{stem}.jpg")
        images.append({"id": k, "file_name": f"{stem}.jpg", "width": w, "height": h})
        mask = load_ccp_mask(ccp / PIXEL_DIR / f"{stem}.mat")
        for index in np.unique(mask).tolist():
            name = names[index]
            if name not in cat_id:
                continue
            ys, xs = np.nonzero(mask == index)
            box = [
                float(xs.min() * sx),
                float(ys.min() * sy),
                float((xs.max() + 1 - xs.min()) * sx),
                float((ys.max() + 1 - ys.min()) * sy),
            ]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": k,
                    "category_id": cat_id[name],
                    "bbox": [round(v, 1) for v in box],
                    "area": round(float(len(xs) * sx * sy), 1),
                    "iscrowd": 0,
                }
            )
    return {
        "info": {
            "description": "fashionlens sample: 60 Clothing Co-Parsing street photos (Apache-2.0)",
            "url": "https://github.com/bearpaw/clothing-co-parsing",
        },
        "licenses": [{"id": 1, "name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"}],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": name, "supercategory": "garment"} for name, i in cat_id.items()],
    }


def build_product(clothing: Path, out: Path) -> dict:
    from PIL import Image

    classes = sorted(p.name for p in (clothing / "validation").iterdir() if p.is_dir())
    cat_id = {name: i for i, name in enumerate(classes, start=1)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for name in classes:
        files = sorted((clothing / "validation" / name).glob("*.jpg"))
        step = max(1, len(files) // PER_CLASS)
        for path in files[::step][:PER_CLASS]:
            photo = open_rgb(path)
            scale = PRODUCT_MAX_SIDE / max(photo.size)
            size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
            _save(photo.resize(size, Image.Resampling.LANCZOS), out / "images" / path.name)
            k = len(images) + 1
            images.append({"id": k, "file_name": path.name, "width": size[0], "height": size[1]})
            annotations.append(
                {
                    "id": k,
                    "image_id": k,
                    "category_id": cat_id[name],
                    "bbox": [0.0, 0.0, float(size[0]), float(size[1])],
                    "area": float(size[0] * size[1]),
                    "iscrowd": 0,
                }
            )
    return {
        "info": {
            "description": "fashionlens sample: 60 photos of the clothing dataset (CC0 1.0)",
            "url": "https://github.com/alexeygrigorev/clothing-dataset-small",
        },
        "licenses": [
            {"id": 1, "name": "CC0 1.0", "url": "https://creativecommons.org/publicdomain/zero/1.0/"}
        ],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": name, "supercategory": "garment"} for name, i in cat_id.items()],
    }


def build(data: Path, out: Path = HERE) -> None:
    for part in ("street", "product"):
        shutil.rmtree(out / part, ignore_errors=True)
    street = build_street(data / "ccp", out / "street")
    (out / "street" / "ccp_sample.json").write_text(json.dumps(street, indent=1) + "\n", encoding="utf-8")
    product = build_product(data / "clothing", out / "product")
    (out / "product" / "clothing_sample.json").write_text(
        json.dumps(product, indent=1) + "\n", encoding="utf-8"
    )
    shutil.copy(data / "ccp" / "LICENSE", out / "LICENSE-CCP")
    shutil.copy(data / "clothing" / "LICENSE", out / "LICENSE-clothing")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    logger.warning(
        "sample written to %s: %d + %d photos, %.2f MB",
        out,
        len(street["images"]),
        len(product["images"]),
        size / 1e6,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build(args.data, args.out)


if __name__ == "__main__":
    main()
