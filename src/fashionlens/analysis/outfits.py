"""How well outfit compatibility is learned: fill-in-the-blank and compatibility AUC on held-out outfits.

**FITB** (`fitb`): for every garment of every held-out outfit (with at least two garments), the
garment is taken out and ranked against 3 garments of the same role from *other* held-out outfits
that differ from it in class or colour (`fitb_questions`). Accuracy is the share of questions where
the true garment ranks first; a tie among k candidates that include it counts 1/k, so a scorer that
says nothing scores chance (25%).

**Compatibility AUC** (`compatibility_auc`): every held-out outfit against a fake made from it by
replacing each garment with a random garment of the same role from another held-out outfit (so the
fake has the same roles, only the pieces do not belong together); the AUC of the outfit scores,
averaged over 5 draws of fakes.

Scorers compared (`scorers`): the learned `CompatibilityModel`; a **popularity** control (the most
frequent garment of that role: class + colour, counted on the training outfits); the **colour
harmony** rule alone (`services.outfits.colour_harmony`); chance.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.training.outfits import CompatibilityModel, Garment, Outfit, Question, fitb_questions

# context garments, candidate -> score (higher = fits better)
CandidateScorer = Callable[[Sequence[Garment], Garment], float]
# whole outfit -> score
OutfitScorer = Callable[[Sequence[Garment]], float]


@dataclass(frozen=True)
class FitbResult:
    name: str
    accuracy: float
    n: int
    correct: np.ndarray  # per question, in [0, 1] (ties shared)
    per_role: dict[str, float]


def fitb(questions: Sequence[Question], score: CandidateScorer, name: str = "") -> FitbResult:
    if not questions:
        raise InvalidInputError("no fill-in-the-blank questions (need held-out outfits of 2+ garments)")
    correct = np.zeros(len(questions))
    roles: dict[str, list[float]] = {}
    for i, q in enumerate(questions):
        s = np.asarray([score(q.context, g) for g in (q.answer, *q.wrong)], dtype=np.float64)
        ties = np.flatnonzero(s >= s.max() - 1e-12)
        correct[i] = (0 in ties) / len(ties)
        roles.setdefault(q.answer.role, []).append(correct[i])
    per_role = {r: float(np.mean(v)) for r, v in sorted(roles.items())}
    return FitbResult(name, float(correct.mean()), len(questions), correct, per_role)


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, n: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``a - b`` and its 95% bootstrap interval (questions resampled together)."""
    rng = np.random.default_rng(seed)
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    means = d[rng.integers(0, len(d), size=(n, len(d)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(d.mean()), float(lo), float(hi)


def fake_outfits(outfits: Sequence[Outfit], seed: int = 0) -> list[Outfit]:
    """Each outfit with every garment replaced by a random same-role garment of another outfit."""
    rng = np.random.default_rng(seed)
    pool: dict[str, list[tuple[int, Garment]]] = {}
    for i, o in enumerate(outfits):
        for g in o.garments:
            pool.setdefault(g.role, []).append((i, g))
    out = []
    for i, o in enumerate(outfits):
        garments = []
        for g in o.garments:
            options = [h for j, h in pool[g.role] if j != i]
            garments.append(options[int(rng.integers(len(options)))] if options else g)
        out.append(Outfit(f"fake-{o.photo}", tuple(garments), o.source))
    return out


def compatibility_auc(outfits: Sequence[Outfit], score: OutfitScorer, seed: int = 0, draws: int = 5) -> float:
    """AUC of real vs fake outfits, averaged over ``draws`` sets of fakes (seeds ``seed``...)."""
    from sklearn.metrics import roc_auc_score

    real = [o for o in outfits if len(o.garments) >= 2]
    if len(real) < 2:
        raise InvalidInputError("need at least 2 held-out outfits of 2+ garments for the AUC")
    real_scores = [score(o.garments) for o in real]
    aucs = []
    for k in range(draws):
        fake = fake_outfits(real, seed + k)
        y = [1] * len(real) + [0] * len(fake)
        aucs.append(roc_auc_score(y, real_scores + [score(o.garments) for o in fake]))
    return float(np.mean(aucs))


# -- the scorers ------------------------------------------------------------------------------------
def popularity_counts(train: Sequence[Outfit]) -> Counter[tuple[str, str]]:
    return Counter(g.identity for o in train for g in o.garments if g.colour)


def scorers(
    model: CompatibilityModel, train: Sequence[Outfit]
) -> dict[str, tuple[CandidateScorer, OutfitScorer]]:
    """name -> (FITB scorer, whole-outfit scorer) for the model and each baseline."""
    from fashionlens.services.outfits import colour_harmony

    pop = popularity_counts(train)

    def pop_candidate(_: Sequence[Garment], g: Garment) -> float:
        return float(pop[g.identity])

    def pop_outfit(gs: Sequence[Garment]) -> float:
        return float(np.mean([math.log(pop[g.identity] + 1) for g in gs]))

    def harmony_candidate(ctx: Sequence[Garment], g: Garment) -> float:
        return colour_harmony([(h.colour, h.lab) for h in (*ctx, g)])[0]

    def harmony_outfit(gs: Sequence[Garment]) -> float:
        return colour_harmony([(h.colour, h.lab) for h in gs])[0]

    def model_candidate(ctx: Sequence[Garment], g: Garment) -> float:
        return model.logit(ctx, g)

    return {
        "learned compatibility": (model_candidate, model.outfit_score),
        "popularity control": (pop_candidate, pop_outfit),
        "colour harmony rule": (harmony_candidate, harmony_outfit),
        "chance": (lambda _c, _g: 0.0, lambda _gs: 0.0),
    }


@dataclass(frozen=True)
class OutfitEvaluation:
    fitb: dict[str, FitbResult]
    auc: dict[str, float]
    n_outfits: int
    n_questions: int


def evaluate(
    model: CompatibilityModel, train: Sequence[Outfit], held_out: Sequence[Outfit], seed: int = 1
) -> OutfitEvaluation:
    """FITB accuracy and compatibility AUC of the model and the baselines on ``held_out``."""
    coloured = [o for o in held_out if all(g.colour for g in o.garments)]
    questions = fitb_questions(coloured, 3, seed)
    out_fitb, out_auc = {}, {}
    for name, (cand, whole) in scorers(model, train).items():
        out_fitb[name] = fitb(questions, cand, name)
        out_auc[name] = compatibility_auc(coloured, whole, seed) if name != "chance" else 0.5
    return OutfitEvaluation(out_fitb, out_auc, len(coloured), len(questions))
