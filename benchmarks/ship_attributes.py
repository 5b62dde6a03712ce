"""Ship a trained attribute classifier with the package: fp16 weights + a card, re-checked held out.

Takes the classifier `fashionlens train attributes` wrote under ``HOME/models/attributes/<id>/``,
stores its float tensors as fp16 (half the size; `AttributeClassifier.load` reads them back into
fp32, ``torch.load(weights_only=True)``, no pickle of code), writes
``src/fashionlens/models/shipped/attributes/<id>.pt`` and its card ``<id>.json``, then rebuilds the
training run's held-out split from the same catalogue, checks that it is the same split (sha256 of
the test ids recorded at training) and prints each head's held-out accuracy, fp32 vs shipped fp16,
measured in this one run.

    FASHIONLENS_HOME=/tmp/scratch .venv/bin/fashionlens ingest products ../shared/data/products
    FASHIONLENS_HOME=/tmp/scratch .venv/bin/fashionlens --runtime onnx-int8 embed
    FASHIONLENS_HOME=/tmp/scratch .venv/bin/fashionlens --runtime onnx-int8 train attributes
    .venv/bin/python benchmarks/ship_attributes.py --home /tmp/scratch \
        --backbone-id mobilenet_v2.imagenet+onnx-int8

A fine-tuned backbone (``mobilenet_v2.products``, ``mobilenet_v2.clothing``: `fashionlens train
backbone`) ships too: its fp16 weights ``HOME/models/<id>.pt`` and their card are copied to
``src/fashionlens/models/shipped/`` next to the classifier, so it loads offline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "fashionlens" / "models" / "shipped" / "attributes"


def held_out_accuracy(classifier, home: Path, backbone_id: str) -> tuple[dict[str, float], bool, int]:
    """Per-head accuracy on the training run's test split (rebuilt), whether its ids match, n."""
    from fashionlens.core.settings import Settings
    from fashionlens.models.colour.features import colour_features_for
    from fashionlens.store.catalog import Catalog
    from fashionlens.training.attributes import draw_split, load_attribute_data

    settings = Settings(home=home)
    tc = classifier.train_config
    data = load_attribute_data(Catalog(settings.db_path), backbone_id, tuple(tc["attributes"]))
    extra = None
    if classifier.config.extra_dim:
        extra = colour_features_for(data.paths, data.content_hashes, settings.cache_dir, [])
        ok = np.isfinite(extra).all(axis=1)
        data, extra = data.subset(ok), extra[ok]
    strata = data.labels.get("articleType") or data.labels[tc["attributes"][0]]
    _, _, test_idx, _ = draw_split(
        data,
        strata,
        str(tc.get("split", "auto")),
        float(tc["test_size"]),
        float(tc["val_size"]),
        int(tc["seed"]),
    )
    digest = hashlib.sha256("\n".join(data.ids[i] for i in test_idx).encode()).hexdigest()
    same = digest == classifier.metrics.get("test_ids_sha256")
    pred = classifier.predict(data.vectors[test_idx], None if extra is None else extra[test_idx])
    out = {}
    for name in classifier.heads:
        known = set(classifier.encoders[name].classes)
        truth = [data.labels[name][i] for i in test_idx]
        scored = [k for k, y in enumerate(truth) if y in known]
        out[name] = sum(truth[k] == pred.labels[name][k] for k in scored) / max(len(scored), 1)
    return out, same, len(test_idx)


def main() -> int:
    import torch

    from fashionlens.models.heads.attributes import AttributeClassifier

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, required=True, help="The FASHIONLENS_HOME the model was trained in.")
    ap.add_argument("--backbone-id", action="append", required=True, help="Stored model id (repeatable).")
    ap.add_argument("--out", type=Path, default=SHIPPED)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for backbone_id in args.backbone_id:
        slug = backbone_id.replace("/", "_")
        src = args.home / "models" / "attributes" / slug / "attributes.pt"
        fp32 = AttributeClassifier.load(src)
        ckpt = fp32.checkpoint()
        ckpt["state_dict"] = {
            k: (v.half() if v.is_floating_point() else v) for k, v in ckpt["state_dict"].items()
        }
        target = args.out / f"{slug}.pt"
        tmp = target.with_name(target.name + ".tmp")
        torch.save(ckpt, tmp)
        tmp.replace(target)
        shipped = AttributeClassifier.load(target)  # weights_only=True, as every user loads it
        acc32, same32, n = held_out_accuracy(fp32, args.home, backbone_id)
        acc16, same16, _ = held_out_accuracy(shipped, args.home, backbone_id)
        if not (same32 and same16):
            print(f"{backbone_id}: the rebuilt held-out split differs from training's", file=sys.stderr)
            return 1
        card = shipped.card()
        backbone_file = _ship_backbone(args.home, backbone_id, args.out.parent)
        card["shipped"] = {
            "file": f"src/fashionlens/models/shipped/attributes/{target.name}",
            "bytes": target.stat().st_size,
            "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
            "dtype": "float16 weights (loaded into float32)",
            "data": "the shared product catalogue (../shared/data/products: 7,671 photos, 7,597 after "
            "dedup by content hash), styles.csv labels; baseColour grouped by core.labels.colour_group",
            "commands": _commands(backbone_id),
            "backbone_weights": backbone_file,
            "held_out": {
                "split": fp32.metrics.get("split"),
                "n_test": n,
                "test_ids_sha256": fp32.metrics.get("test_ids_sha256"),
                "accuracy_fp32": {k: round(v, 4) for k, v in acc32.items()},
                "accuracy_shipped_fp16": {k: round(v, 4) for k, v in acc16.items()},
            },
        }
        target.with_suffix(".json").write_text(json.dumps(card, indent=2), encoding="utf-8")
        print(f"{backbone_id}: {target} ({target.stat().st_size / 1e6:.2f} MB), held-out n={n}")
        print(f"  {'head':<12} {'fp32':>7} {'fp16':>7}")
        for name in acc32:
            print(f"  {name:<12} {acc32[name]:>7.3f} {acc16[name]:>7.3f}")
    return 0


def _runtime(backbone_id: str) -> str:
    return "onnx-int8" if backbone_id.endswith("+onnx-int8") else "torch"


def _commands(backbone_id: str) -> list[str]:
    ship = f"python benchmarks/ship_attributes.py --home HOME --backbone-id {backbone_id}"
    if backbone_id == "mobilenet_v2.clothing":
        return [
            "fashionlens ingest folder ../shared/data/clothing --source street --labels-from-subfolders "
            "--label-scheme clothing",
            "fashionlens --runtime torch embed",
            "fashionlens --runtime torch train backbone --target mobilenet_v2.clothing --attribute label "
            "--threads 1",
            ship,
        ]
    steps = [
        "fashionlens ingest products ../shared/data/products",
        f"fashionlens --runtime {_runtime(backbone_id)} embed",
    ]
    if backbone_id == "mobilenet_v2.products":
        steps.append(
            "python benchmarks/bench_finetune.py --home HOME --epochs 5 --threads 1  # = train backbone"
        )
    else:
        steps.append(f"fashionlens --runtime {_runtime(backbone_id)} train attributes")
    return [*steps, ship]


def _ship_backbone(home: Path, backbone_id: str, shipped_dir: Path) -> str | None:
    """Copy a fine-tuned backbone's weights + card from HOME/models into the package; its file name."""
    import shutil

    from fashionlens.models.registry import get_spec

    spec = get_spec(backbone_id.split("+")[0])
    if not spec.extra.get("shipped"):
        return None
    src = home / "models" / str(spec.weights_file)
    dst = shipped_dir / str(spec.extra["shipped"])
    shutil.copyfile(src, dst)
    shutil.copyfile(src.with_suffix(".json"), dst.with_suffix(".json"))
    print(f"{backbone_id}: backbone weights {dst} ({dst.stat().st_size / 1e6:.2f} MB)")
    return dst.name


if __name__ == "__main__":
    sys.exit(main())
