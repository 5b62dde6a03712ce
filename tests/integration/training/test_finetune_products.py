"""Fine-tuning MobileNetV2 end to end on real products (the first 240 rows of ``styles.csv``).

Small and short (1-2 epochs at 96 px) so it runs in seconds: what is checked is the plumbing
(the same split as the frozen recipe, weights the registered backbone finds, resume, the heads
fitted on the new space), not the accuracy, which `benchmarks/bench_finetune.py` measures.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.settings import Settings, load_settings
from fashionlens.jobs.embed import embed_catalog
from fashionlens.jobs.ingest import ingest
from fashionlens.models import factory
from fashionlens.models.registry import create_backbone
from fashionlens.store.catalog import Catalog
from fashionlens.training.attributes import classifier_path, draw_split, load_attribute_data
from fashionlens.training.finetune import (
    FinetuneOptions,
    finetune_and_fit,
    finetune_backbone,
)

N_PRODUCTS = 240
TINY = {"epochs": 1, "image_size": 96, "batch_size": 16, "attributes": ("articleType", "gender")}


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Settings, Catalog]:
    home = tmp_path_factory.mktemp("finetune_home")
    settings = load_settings({"home": str(home)})
    catalog = Catalog(settings.db_path)
    ingest(catalog, shared_data / "products", "products", settings, limit=N_PRODUCTS)
    embed_catalog(catalog, create_backbone("mobilenet_v2.imagenet"), batch_size=32)
    return settings, catalog


def test_finetuned_weights_are_found_by_the_registered_backbone(
    embedded: tuple[Settings, Catalog],
) -> None:
    settings, catalog = embedded
    options = FinetuneOptions(**TINY)  # type: ignore[arg-type]
    report, heads = finetune_and_fit(catalog, settings, options)
    assert report.weights_path == settings.models_dir / "mobilenet_v2.products.pt"
    assert 0 < report.weights_path.stat().st_size < 10_000_000  # fp16: about 7 MB
    card = json.loads(report.weights_path.with_suffix(".json").read_text())
    assert card["backbone_id"] == "mobilenet_v2.products" and card["best_epoch"] == 1
    assert set(card["test_accuracy_linear_heads"]) == {"articleType", "gender"}

    tuned = factory.backbone(settings, "mobilenet_v2.products", runtime="torch")
    tuned.setup()
    assert Path(tuned.weights_path) == report.weights_path  # HOME/models before the shipped copy
    base = create_backbone("mobilenet_v2.imagenet")
    photo = catalog.read("images", columns=["image_path"]).to_pylist()[0]["image_path"]
    from fashionlens.ingest.images import open_rgb

    a, b = tuned.embed([open_rgb(photo)]), base.embed([open_rgb(photo)])
    assert a.shape == b.shape == (1, 1280) and np.isclose(np.linalg.norm(a), 1.0, atol=1e-4)
    assert float((a @ b.T)[0, 0]) < 0.999  # the features moved

    # the heads learnt in the new space, on the same rows and the same test split
    assert heads.classifier_path == classifier_path(settings, "mobilenet_v2.products")
    assert heads.n_test == report.n_test and heads.n_train == report.n_train
    old = load_attribute_data(catalog, "mobilenet_v2.imagenet")
    new = load_attribute_data(catalog, "mobilenet_v2.products")
    assert old.ids == new.ids
    _, _, test, _ = draw_split(old, old.labels["articleType"], "auto", 0.2, 0.15, 0)
    saved = json.loads(heads.classifier_path.with_suffix(".json").read_text())["metrics"]["test_ids_sha256"]
    assert saved == hashlib.sha256("\n".join(old.ids[i] for i in test).encode()).hexdigest()


def test_resume_continues_from_the_last_epoch(embedded: tuple[Settings, Catalog]) -> None:
    settings, catalog = embedded
    two = FinetuneOptions(**{**TINY, "epochs": 2, "seed": 3})  # type: ignore[arg-type]
    first = finetune_backbone(catalog, settings, two)
    again = finetune_backbone(catalog, settings, two, resume=True)
    assert first.epochs_run == 2 and again.history[:2] == first.history  # nothing retrained
    other = FinetuneOptions(**{**TINY, "epochs": 2, "seed": 4})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="another config"):
        finetune_backbone(catalog, settings, other, resume=True)


def test_bad_options_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="image_size"):
        FinetuneOptions(image_size=8)
    with pytest.raises(InvalidInputError, match="epochs"):
        FinetuneOptions(epochs=0)
