"""FITB and compatibility AUC on held-out CCP photos with the shipped compatibility model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashionlens.analysis.outfits import evaluate, fake_outfits, paired_bootstrap
from fashionlens.ingest.ccp import ccp_pixel_split
from fashionlens.models.weights import shipped_path
from fashionlens.training.outfits import SHIPPED_FILE, CompatibilityModel, read_ccp_outfits


def test_fitb_on_held_out_photos(shared_data: Path) -> None:
    train_stems, test_stems = ccp_pixel_split(shared_data / "ccp")
    held = read_ccp_outfits(shared_data / "ccp", stems=test_stems[:40])
    train = read_ccp_outfits(shared_data / "ccp", stems=train_stems[:60])
    model = CompatibilityModel.load(shipped_path(SHIPPED_FILE))  # never trained on test_stems
    ev = evaluate(model, train, held)
    assert ev.n_questions >= 100
    assert ev.fitb["chance"].accuracy == 0.25 and ev.auc["chance"] == 0.5
    learned = ev.fitb["learned compatibility"]
    assert learned.accuracy > 0.32, learned.accuracy  # chance is 0.25
    assert set(learned.per_role) <= {"top", "bottom", "dress", "outerwear", "footwear", "bag", "accessory"}
    assert all(0.0 <= a <= 1.0 for a in ev.auc.values())
    fakes = fake_outfits(held)
    assert [sorted(g.role for g in o.garments) for o in fakes] == [
        sorted(g.role for g in o.garments) for o in held
    ]
    d, lo, hi = paired_bootstrap(learned.correct, ev.fitb["chance"].correct)
    assert lo <= d <= hi and d > 0
    assert np.isclose(d, learned.accuracy - 0.25)
