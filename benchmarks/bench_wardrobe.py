"""Wardrobe figures: duplicate-warning precision/recall, outfit FITB + AUC, single-garment class.

    python benchmarks/bench_wardrobe.py [--data ../shared/data] [--only dup,fitb,single]
        [--ccp-photos 100] [--clothing-photos 170] [--ship]

**Duplicates.** Positives must be two different photos of the same garment. CCP has one photo per
outfit and the clothing dataset one photo per garment, so the second photo is derived from the real
one the way a second shot differs: mirrored (half the time), a different framing (a random crop
keeping 80-95% of each side), a different distance (scaled to 60-90%), a different exposure
(brightness x0.85-1.15) and re-encoded as JPEG (quality 70). The whole pipeline runs again on it
(segmentation included, so masks and crops differ); a CCP garment is paired with the garment of the
same class in the second photo whose mask overlaps its own mapped mask (IoU >= 0.3). Photos: the
first ``--ccp-photos`` of CCP's held-out segmentation split (street, many garments each) and every
other ``--clothing-photos`` of the clothing validation split (one garment each, ``--single``).
Each second-photo garment asks "do I already own this?" against a wardrobe holding the originals of
70% of the photos (the other 30% are garments you do not own: the warning must stay silent). A
warning is right when it fires and names the garment's own original. Precision = right warnings /
warnings, recall = right warnings / garments that have their original in the wardrobe. The threshold
is the one with the best F1 on the tuning half of the photos (crc32 parity) and is reported on the
other half.

**Outfits.** FITB and compatibility AUC on CCP's 200 held-out pixel-labelled photos
(`fashionlens.analysis.outfits`); the model is fitted on the other 1,896 photos (804 with pixel
labels and colours, 1,092 with tags). ``--ship`` writes it to the package.

**Single garments.** The garment class of ``wardrobe add --single`` on the 341 clothing validation
photos: the shipped probe (trained on the crops of every ``--probe-every``-th clothing train photo;
``--ship`` retrains it) vs the attribute classifier's article type and the U-Net's majority class.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from fashionlens.core.labels import label_maps
from fashionlens.core.settings import Settings
from fashionlens.ingest.images import open_rgb

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "fashionlens" / "models" / "shipped"
CACHE = ROOT / "runs" / "wardrobe"


# -- a second photo of the same garment ---------------------------------------------------------------
def second_photo(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    from PIL import Image, ImageEnhance

    h, w = rgb.shape[:2]
    fw, fh = rng.uniform(0.8, 0.95), rng.uniform(0.8, 0.95)
    cw, ch = int(w * fw), int(h * fh)
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    scale = rng.uniform(0.6, 0.9)
    flip = bool(rng.random() < 0.5)
    im = Image.fromarray(rgb[y0 : y0 + ch, x0 : x0 + cw])
    size = (max(32, int(cw * scale)), max(32, int(ch * scale)))
    im = im.resize(size, Image.Resampling.BILINEAR)
    if flip:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.85, 1.15))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=70)
    out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out, {"crop": (x0, y0, cw, ch), "size": size, "flip": flip}


def map_mask(mask: np.ndarray, t: dict) -> np.ndarray:
    from PIL import Image

    x0, y0, cw, ch = t["crop"]
    m = Image.fromarray(mask[y0 : y0 + ch, x0 : x0 + cw].astype(np.uint8) * 255).resize(
        t["size"], Image.Resampling.NEAREST
    )
    out = np.asarray(m) > 127
    return out[:, ::-1] if t["flip"] else out


def digitised(d, rgb: np.ndarray, single: bool, tmp: Path, tag: str):
    garments = d.garments(rgb, single=single)
    d.describe(rgb, garments, [tmp / f"{tag}_{g.index}.png" for g in garments])
    return garments


def duplicate_pairs(data: Path, n_ccp: int, n_clothing: int, settings: Settings) -> list[dict]:
    """One record per garment: photo id, its vector, and its second-photo vector (or None)."""
    from fashionlens.ingest.ccp import ccp_pixel_split
    from fashionlens.services.wardrobe_digitise import Digitiser

    d = Digitiser(settings)
    tmp = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    records = []
    _, test = ccp_pixel_split(data / "ccp")
    photos = [(data / "ccp" / "photos" / f"{s}.jpg", False) for s in test[:n_ccp]]
    clothing = sorted((data / "clothing" / "validation").glob("*/*.jpg"))
    photos += [(p, True) for p in clothing[:: max(1, len(clothing) // max(n_clothing, 1))][:n_clothing]]
    for n, (path, single) in enumerate(photos):
        rgb = np.asarray(open_rgb(path))
        first = digitised(d, rgb, single, tmp, f"a{n}")
        other, t = second_photo(rgb, rng)
        second = digitised(d, other, single, tmp, f"b{n}")
        for g in first:
            match = None
            if single:
                match = second[0] if second else None
            else:
                mapped = map_mask(g.mask, t)
                best = 0.3
                for h in second:
                    if h.category == g.category and h.mask.shape == mapped.shape:
                        iou = (h.mask & mapped).sum() / max((h.mask | mapped).sum(), 1)
                        if iou >= best:
                            match, best = h, iou
            records.append(
                {
                    "photo": f"{'clothing' if single else 'ccp'}:{path.name}",
                    "category": g.category,
                    "colour": g.colours[0]["name"] if g.colours else "",
                    "first": g.embedding,
                    "second": None if match is None else match.embedding,
                }
            )
    return records


def warnings_at(records: list[dict], owned_photos: set[str], t: float) -> tuple[int, int, int]:
    """(right warnings, warnings, garments whose original is owned) at threshold ``t``."""
    owned = [r for r in records if r["photo"] in owned_photos]
    matrix = np.stack([r["first"] for r in owned])
    right = fired = positives = 0
    for r in records:
        if r["second"] is None:
            continue
        sims = matrix @ r["second"]
        best = int(np.argmax(sims))
        has_original = r["photo"] in owned_photos
        positives += has_original
        if sims[best] >= t:
            fired += 1
            right += owned[best] is r
    return right, fired, positives


def bench_duplicates(args: argparse.Namespace, settings: Settings) -> None:
    t0 = time.perf_counter()
    records = duplicate_pairs(args.data, args.ccp_photos, args.clothing_photos, settings)
    photos = sorted({r["photo"] for r in records})
    rng = np.random.default_rng(1)
    owned = {p for p in photos if rng.random() < 0.7}
    half = {p: zlib.crc32(p.encode()) % 2 for p in photos}
    tune = [r for r in records if half[r["photo"]] == 0]
    test = [r for r in records if half[r["photo"]] == 1]
    paired = sum(r["second"] is not None for r in records)
    print(f"\n## duplicate warning ({time.perf_counter() - t0:.0f} s)")
    print(
        f"{len(records)} garments from {len(photos)} photos "
        f"({sum(p.startswith('ccp') for p in photos)} CCP street, "
        f"{sum(p.startswith('clothing') for p in photos)} clothing single); "
        f"{paired} found again in their second photo"
    )
    best_t, best_f1 = 0.9, -1.0
    print("threshold  precision  recall  (tuning half)")
    for t in np.round(np.arange(0.70, 0.99, 0.02), 2):
        right, fired, pos = warnings_at(tune, {p for p in owned if half[p] == 0}, float(t))
        p, r = (right / fired if fired else 1.0), (right / pos if pos else 0.0)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        print(f"  {t:.2f}      {p:.3f}     {r:.3f}")
        if f1 > best_f1:
            best_t, best_f1 = float(t), f1
    right, fired, pos = warnings_at(test, {p for p in owned if half[p] == 1}, best_t)
    negatives = sum(1 for r in test if r["second"] is not None and r["photo"] not in owned)
    print(
        f"chosen threshold {best_t:.2f} (best F1 on the tuning half); on the held-out half: precision "
        f"{right / max(fired, 1):.3f} ({right}/{fired} warnings right), recall {right / max(pos, 1):.3f} "
        f"({right}/{pos}); {negatives} second photos of garments not owned"
    )


# -- outfits ------------------------------------------------------------------------------------------
def load_outfits(data: Path):
    from fashionlens.training.outfits import outfits_from_json, outfits_to_json, read_ccp_outfits

    cache = CACHE / "ccp_outfits.json"
    if cache.is_file():
        return outfits_from_json(json.loads(cache.read_text()))
    outfits = read_ccp_outfits(data / "ccp")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(outfits_to_json(outfits)))
    return outfits


def bench_fitb(args: argparse.Namespace) -> None:
    from fashionlens.analysis.outfits import evaluate, paired_bootstrap
    from fashionlens.ingest.ccp import ccp_pixel_split
    from fashionlens.training.outfits import SHIPPED_FILE, fit_compatibility, split_outfits

    t0 = time.perf_counter()
    outfits = load_outfits(args.data)
    _, test = ccp_pixel_split(args.data / "ccp")
    train, held = split_outfits(outfits, test)
    model = fit_compatibility(train)
    ev = evaluate(model, train, held)
    print(f"\n## outfit compatibility, CCP ({time.perf_counter() - t0:.0f} s)")
    print(
        f"trained on {len(train)} outfits ({sum(o.source == 'pixel' for o in train)} with colours); "
        f"held out: {ev.n_outfits} outfits, {ev.n_questions} FITB questions "
        "(1 right + 3 wrong of the same role)"
    )
    print(f"{'scorer':<24} {'FITB':>6} {'AUC':>6}   FITB per role")
    for name, res in ev.fitb.items():
        roles = ", ".join(f"{r} {v:.2f}" for r, v in res.per_role.items())
        print(f"{name:<24} {res.accuracy:>6.3f} {ev.auc[name]:>6.3f}   {roles}")
    d, lo, hi = paired_bootstrap(
        ev.fitb["learned compatibility"].correct, ev.fitb["popularity control"].correct
    )
    print(f"learned - popularity FITB: {d:+.3f} (95% bootstrap interval {lo:+.3f} .. {hi:+.3f})")
    if args.ship:
        model.card.update(
            {
                "command": "python benchmarks/bench_wardrobe.py --ship",
                "data": "Clothing Co-Parsing (Apache-2.0): all photos but the 200 held out (ccp_pixel_split)",
                "held_out_fitb": round(ev.fitb["learned compatibility"].accuracy, 4),
                "held_out_auc": round(ev.auc["learned compatibility"], 4),
                "popularity_fitb": round(ev.fitb["popularity control"].accuracy, 4),
            }
        )
        print(f"shipped {model.save(SHIPPED / SHIPPED_FILE)}")


# -- single garments ----------------------------------------------------------------------------------
def single_vectors(d, paths: list[Path], tmp: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """Vectors, U-Net classes and classifier classes of ``add --single`` on ``paths`` (cached in runs/)."""
    from fashionlens.models.segmenters.unet import SHIPPED_WEIGHTS

    unet_key = SHIPPED_WEIGHTS.read_bytes() if SHIPPED_WEIGHTS.is_file() else b""  # new U-Net: new classes
    key = zlib.crc32("|".join(str(p) for p in paths).encode() + d.backbone.model_id.encode() + unet_key)
    cache = CACHE / f"single_{key:08x}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            return z["vectors"], [str(v) for v in z["unet"]], [str(v) for v in z["article"]]
    vectors, unet, article = [], [], []
    for n, p in enumerate(paths):
        rgb = np.asarray(open_rgb(p))
        g = d.garments(rgb, single=True)
        d.describe(rgb, g, [tmp / f"s{n}.png"])
        vectors.append(g[0].embedding)
        unet.append(g[0].attributes.get("unet_category", ""))
        pred = g[0].attributes.get("predictions", {}).get("articleType", "")
        article.append(label_maps()["products_to_modanet"].get(pred, ""))  # type: ignore[union-attr,attr-defined]
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=np.stack(vectors), unet=np.array(unet), article=np.array(article))
    return np.stack(vectors), unet, article


def choose_probe(x: np.ndarray, y: list[str]) -> tuple[float, str | None]:
    """C and class weighting by 5-fold cross-validation on the training photos only."""
    from sklearn.model_selection import StratifiedKFold

    from fashionlens.models.heads.linear_probe import LinearProbe

    labels = np.asarray(y)
    best: tuple[float, str | None] = (1.0, "balanced")
    best_acc = -1.0
    for C in (1.0, 10.0, 100.0):
        for weight in ("balanced", None):
            accs = []
            for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(x, labels):
                probe = LinearProbe("cv", "cv", C=C, class_weight=weight).fit(x[tr], list(labels[tr]))
                accs.append(np.mean(np.asarray(probe.predict(x[te])[0]) == labels[te]))
            print(f"  probe C={C:g} class_weight={weight}: 5-fold accuracy {np.mean(accs):.3f}")
            if np.mean(accs) > best_acc:
                best, best_acc = (C, weight), float(np.mean(accs))
    return best


def bench_single(args: argparse.Namespace, settings: Settings) -> None:
    from fashionlens.models.heads.linear_probe import LinearProbe
    from fashionlens.models.registry import parse_model_id
    from fashionlens.services.wardrobe_digitise import SINGLE_PROBE, Digitiser

    t0 = time.perf_counter()
    to_modanet = label_maps()["clothing_to_modanet"]
    d = Digitiser(settings)
    d._probe = False  # measure the other sources; the probe is scored on its own below
    tmp = Path(tempfile.mkdtemp())
    val = sorted((args.data / "clothing" / "validation").glob("*/*.jpg"))
    y_val = [to_modanet[p.parent.name] for p in val]  # type: ignore[index]
    x_val, unet, article = single_vectors(d, val, tmp)
    base = parse_model_id(d.backbone.model_id)[0]
    path = SHIPPED / f"{SINGLE_PROBE}.{base}.npz"
    if args.ship:
        train = sorted((args.data / "clothing" / "train").glob("*/*.jpg"))[:: args.probe_every]
        x_tr, _, _ = single_vectors(d, train, tmp)
        y_tr = [to_modanet[p.parent.name] for p in train]  # type: ignore[index]
        C, weight = choose_probe(x_tr, y_tr)
        probe = LinearProbe(
            backbone_id=d.backbone.model_id, task="wardrobe-single-garment", C=C, class_weight=weight
        )
        probe.fit(x_tr, y_tr)
        pred, _, _ = probe.predict(x_val)
        probe.metrics = {
            "command": "python benchmarks/bench_wardrobe.py --only single --ship",
            "data": "clothing-dataset-small (CC0), train split, crops as in add --single",
            "validation_accuracy": round(
                float(np.mean([a == b for a, b in zip(pred, y_val, strict=True)])), 4
            ),
            "n_train": len(train),
            "chosen_by": "5-fold cross-validation on the training photos (C, class_weight)",
        }
        probe.save(path)
        print(f"shipped {path}")
    probe = LinearProbe.load(path)
    pred, _, _ = probe.predict(x_val)

    def acc(p: list[str]) -> float:
        return float(np.mean([a == b for a, b in zip(p, y_val, strict=True)]))

    majority = Counter(y_val).most_common(1)[0]
    art = [a or u for a, u in zip(article, unet, strict=True)]
    print(
        f"\n## single-garment class, {len(val)} clothing validation photos ({time.perf_counter() - t0:.0f} s)"
    )
    print(
        f"probe {acc(pred):.3f}; attribute classifier article type {acc(art):.3f}; "
        f"U-Net majority class {acc(unet):.3f}; always {majority[0]} {majority[1] / len(val):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--only", default="dup,fitb,single")
    parser.add_argument("--ccp-photos", type=int, default=100)
    parser.add_argument("--clothing-photos", type=int, default=170)
    parser.add_argument("--ship", action="store_true", help="retrain and write the shipped models")
    parser.add_argument("--probe-every", type=int, default=1, help="train the probe on every Nth photo")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    settings = Settings(home=Path(tempfile.mkdtemp()) / "home")
    parts = set(args.only.split(","))
    if "single" in parts:
        bench_single(args, settings)
    if "fitb" in parts:
        bench_fitb(args)
    if "dup" in parts:
        bench_duplicates(args, settings)


if __name__ == "__main__":
    main()
