"""The compatibility model on synthetic outfits with a planted rule: it must find the rule."""

from __future__ import annotations

import numpy as np
import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.training.outfits import (
    FEATURES,
    CompatibilityModel,
    Garment,
    Outfit,
    fit_compatibility,
    fitb_questions,
)

COLOURS = ("black", "white", "red", "blue", "green")


def planted(n: int, seed: int) -> list[Outfit]:
    """Shoes always match the top's colour; bottoms are random."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        top = COLOURS[int(rng.integers(len(COLOURS)))]
        bottom = COLOURS[int(rng.integers(len(COLOURS)))]
        garments = (Garment("top", top), Garment("pants", bottom), Garment("footwear", top))
        out.append(Outfit(f"{seed}-{i}", garments, "pixel"))
    return out


def test_questions_are_fair() -> None:
    outfits = planted(40, 0)
    questions = fitb_questions(outfits, 3, seed=0)
    assert len(questions) == 120
    for q in questions:
        assert len(q.wrong) == 3
        assert all(w.role == q.answer.role for w in q.wrong)
        assert len({w.identity for w in q.wrong} | {q.answer.identity}) == 4  # no duplicate options
        assert q.answer not in q.context and len(q.context) == 2


def test_learns_the_planted_rule_and_round_trips(tmp_path) -> None:
    model = fit_compatibility(planted(300, 1))
    held = planted(60, 2)
    shoes = [q for q in fitb_questions(held, 3, seed=3) if q.answer.category == "footwear"]
    right = sum(int(np.argmax(model.score_candidates(q.context, [q.answer, *q.wrong]))) == 0 for q in shoes)
    assert right / len(shoes) > 0.9  # the shoe that matches the top wins
    match = model.pair_score(Garment("top", "red"), Garment("footwear", "red"))
    clash = model.pair_score(Garment("top", "red"), Garment("footwear", "green"))
    assert match > 0.5 > clash
    path = model.save(tmp_path / "compat.json")
    again = CompatibilityModel.load(path)
    q = shoes[0]
    assert np.allclose(
        again.score_candidates(q.context, [q.answer]), model.score_candidates(q.context, [q.answer])
    )
    assert len(again.weights) == len(FEATURES) and set(again.role_weights) >= {"top", "footwear"}


def test_load_refuses_other_files(tmp_path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(InvalidInputError, match="not an outfit compatibility model"):
        CompatibilityModel.load(bad)
    with pytest.raises(InvalidInputError, match="at least 10 outfits"):
        fit_compatibility(planted(3, 0))
