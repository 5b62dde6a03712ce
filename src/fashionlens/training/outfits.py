"""Learn which garments go together from real outfits: every Clothing Co-Parsing street photo is one.

**Garments of a photo.** Pixel-labelled photos (0001-1004): every CCP label of the ``groundtruth``
map that maps to a ModaNet class (``ccp_to_modanet``) and covers at least `MIN_GARMENT_FRAC` of the
photo is one garment, with its dominant colour name (and Lab) measured over its own pixels
(`dominant_colours`). Tagged photos (1005-2098): every tag that maps to a ModaNet class, no colour.

**Model** (`CompatibilityModel`). A garment is three tokens: its class (``c:top``), class and colour
(``k:top|blue``), role and colour (``r:bottom|black``); a garment with no colour has the first one
only. Over the training outfits the model counts in how many outfits each token appears and each
pair of tokens appears on two different garments, and turns that into smoothed pointwise mutual
information, ``PMI(a, b) = log((n_ab + a) N / ((n_a + b)(n_b + b)))``. For a candidate garment in the
context of the rest of an outfit, nine features (`FEATURES`): the mean PMI between the candidate
and the context garments at each level; the candidate's log frequency within its role at each
level (its popularity); and three colour-matching features (the share of context garments with the
candidate's colour name, and its smallest and mean Lab distance to them). A logistic regression with
one weight vector per role (shared weights plus a per-role correction), fitted on fill-in-the-blank
questions made from the pixel-labelled training outfits (the true garment against three others of
its role; counts taken leave-one-out, so a photo never votes for itself), weighs them. The fitted
model is small JSON (counts + weights): nothing to unpickle.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, NotReadyError
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.settings import Settings
from fashionlens.store.wardrobe import ROLES, role_of

logger = logging.getLogger(__name__)

FORMAT = "fashionlens.outfit-compat/1"
MODEL_ID = "outfit_compat.ccp"
SHIPPED_FILE = f"{MODEL_ID}.json"
MIN_GARMENT_FRAC = 0.002  # a labelled region under 0.2% of the photo is a sliver, not a garment
LEVELS = ("c", "k", "r")  # class, class+colour, role+colour
FEATURES = (
    *(f"pmi_{lv}" for lv in LEVELS),
    *(f"prior_{lv}" for lv in LEVELS),
    "same_colour",  # share of the context garments with the candidate's colour name
    "near_colour",  # 1 - (smallest Lab distance to a context garment) / 100
    "mean_colour",  # 1 - (mean Lab distance to the context garments) / 100
)
TRAIN_COMMAND = "python benchmarks/bench_wardrobe.py --ship"


@dataclass(frozen=True)
class Garment:
    """One garment of an outfit: ModaNet ``category``, its ``role``, a colour name ("" unknown)."""

    category: str
    colour: str = ""
    lab: tuple[float, float, float] | None = None
    label: str = ""  # the dataset's own label (CCP: jeans, blouse...)

    @property
    def role(self) -> str:
        return role_of(self.category)

    def tokens(self) -> dict[str, str]:
        out = {"c": f"c:{self.category}"}
        if self.colour:
            out["k"] = f"k:{self.category}|{self.colour}"
            out["r"] = f"r:{self.role}|{self.colour}"
        return out

    @property
    def identity(self) -> tuple[str, str]:
        return self.category, self.colour


@dataclass(frozen=True)
class Outfit:
    photo: str  # CCP stem (0001) or any id
    garments: tuple[Garment, ...]
    source: str = "pixel"  # pixel | tags | wardrobe


# -- reading CCP ------------------------------------------------------------------------------------
def _garments_from_map(rgb: np.ndarray, label_map: np.ndarray, names: Sequence[str]) -> list[Garment]:
    from fashionlens.core.labels import label_maps
    from fashionlens.models.colour.naming import dominant_colours

    mapping: dict[str, str | None] = label_maps()["ccp_to_modanet"]  # type: ignore[assignment]
    counts = np.bincount(label_map.ravel(), minlength=len(names))
    min_px = MIN_GARMENT_FRAC * label_map.size
    out = []
    for idx in np.flatnonzero(counts >= min_px).tolist():
        category = mapping.get(names[idx]) if idx else None
        if not category:
            continue
        mask = label_map == idx
        ys, xs = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        box = (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))
        colours = dominant_colours(rgb[box], mask[box], k=3)
        top = colours[0]
        out.append(Garment(category, top.name, tuple(round(v, 2) for v in top.lab), names[idx]))  # type: ignore[arg-type]
    return out


def read_ccp_outfits(
    root: Path,
    *,
    stems: Sequence[str] | None = None,
    limit: int | None = None,
    progress: Progress = NO_PROGRESS,
) -> list[Outfit]:
    """Every CCP photo (or those of ``stems``) as an `Outfit` (module doc), in stem order; photos
    with no garment are left out. Decoding and colouring 1,004 label maps takes minutes per core."""
    from fashionlens.core.labels import map_to_modanet
    from fashionlens.ingest.ccp import PIXEL_DIR, TAGS_DIR, ccp_label_names, load_ccp_mask, read_ccp_labels
    from fashionlens.ingest.images import open_rgb

    root = Path(root)
    names = ccp_label_names(root)
    photos = sorted((root / "photos").glob("*.jpg"))
    if stems is not None:
        wanted = set(stems)
        photos = [p for p in photos if p.stem in wanted]
    if not photos:
        raise InvalidInputError(f"{root}: no photos/*.jpg; is this the Clothing Co-Parsing dataset?")
    photos = photos[:limit] if limit is not None else photos
    progress.start(len(photos), "outfits")
    out = []
    for photo in photos:
        stem = photo.stem
        pixel, tags = root / PIXEL_DIR / f"{stem}.mat", root / TAGS_DIR / f"{stem}.mat"
        garments: list[Garment] = []
        source = ""
        try:
            if pixel.is_file():
                label_map = load_ccp_mask(pixel, len(names))
                rgb = np.asarray(open_rgb(photo))
                if rgb.shape[:2] != label_map.shape:
                    raise InvalidInputError(f"{pixel}: label map {label_map.shape} differs from the photo")
                garments, source = _garments_from_map(rgb, label_map, names), "pixel"
            elif tags.is_file():
                labels = read_ccp_labels(tags, names)
                per_label = {lab: map_to_modanet([lab], "ccp") for lab in labels}
                garments = [Garment(c[0], label=lab) for lab, c in per_label.items() if c]
                source = "tags"
        except InvalidInputError as exc:
            logger.warning("skipping %s: %s", photo.name, exc)
        if garments:
            out.append(Outfit(stem, tuple(garments), source))
        progress.advance(1)
    return out


def outfits_to_json(outfits: Iterable[Outfit]) -> list[dict[str, Any]]:
    return [asdict(o) for o in outfits]


def outfits_from_json(data: Iterable[dict[str, Any]]) -> list[Outfit]:
    out = []
    for o in data:
        garments = tuple(
            Garment(
                g["category"],
                g.get("colour", ""),
                tuple(g["lab"]) if g.get("lab") else None,
                g.get("label", ""),
            )  # type: ignore[arg-type]
            for g in o["garments"]
        )
        out.append(Outfit(str(o["photo"]), garments, o.get("source", "pixel")))
    return out


def split_outfits(outfits: Sequence[Outfit], test_stems: Iterable[str]) -> tuple[list[Outfit], list[Outfit]]:
    """(train, held out): the held-out stems (CCP's fixed segmentation split) and everything else."""
    held = set(test_stems)
    return [o for o in outfits if o.photo not in held], [o for o in outfits if o.photo in held]


# -- the model --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CompatConfig:
    pair_smoothing: float = 1.0  # a in the PMI formula
    unigram_smoothing: float = 2.0  # b
    negatives: int = 3  # wrong candidates per training question
    C: float = 1.0  # inverse L2 strength of the logistic regression
    seed: int = 0


def _pair(a: str, b: str) -> str:
    return f"{a}||{b}" if a <= b else f"{b}||{a}"


def _outfit_counts(garments: Sequence[Garment]) -> tuple[Counter[str], Counter[str]]:
    """Tokens (once per outfit) and token pairs on two different garments (once per outfit)."""
    tokens = {t for g in garments for t in g.tokens().values()}
    pairs = set()
    for g, h in combinations(garments, 2):
        tg, th = g.tokens(), h.tokens()
        for lv in LEVELS:
            if lv in tg and lv in th:
                pairs.add(_pair(tg[lv], th[lv]))
    return Counter(tokens), Counter(pairs)


@dataclass
class CompatibilityModel:
    """Garment compatibility from co-occurrence (module doc). `score_candidates` ranks garments for
    a blank; `outfit_score` rates a whole outfit in [0, 1]."""

    unigrams: dict[str, int]
    pairs: dict[str, int]
    n_outfits: int
    role_totals: dict[str, int]  # "c:<role>" etc.: outfits with a garment of that role at that level
    weights: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    role_weights: dict[str, list[float]] = field(default_factory=dict)  # per role; else `weights`
    bias: float = 0.0
    config: CompatConfig = field(default_factory=CompatConfig)
    card: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def count(cls, outfits: Iterable[Outfit], config: CompatConfig | None = None) -> CompatibilityModel:
        uni: Counter[str] = Counter()
        pairs: Counter[str] = Counter()
        roles: Counter[str] = Counter()
        n = 0
        for o in outfits:
            u, p = _outfit_counts(o.garments)
            uni.update(u)
            pairs.update(p)
            roles.update(_role_keys(o.garments))
            n += 1
        return cls(dict(uni), dict(pairs), n, dict(roles), config=config or CompatConfig())

    # features -------------------------------------------------------------------------------------
    def _pmi(self, a: str, b: str, minus: tuple[Counter[str], Counter[str]] | None) -> float:
        cfg = self.config
        n_ab = self.pairs.get(_pair(a, b), 0)
        n_a, n_b, n = self.unigrams.get(a, 0), self.unigrams.get(b, 0), self.n_outfits
        if minus is not None:
            n_ab -= minus[1].get(_pair(a, b), 0)
            n_a -= minus[0].get(a, 0)
            n_b -= minus[0].get(b, 0)
            n -= 1
        a_s, b_s = cfg.pair_smoothing, cfg.unigram_smoothing
        return math.log((n_ab + a_s) * max(n, 1) / ((n_a + b_s) * (n_b + b_s)))

    def _prior(
        self, token: str, role_key: str, minus: tuple[Counter[str], Counter[str], Counter[str]] | None
    ) -> float:
        n_t = self.unigrams.get(token, 0) - (minus[0].get(token, 0) if minus else 0)
        n_r = self.role_totals.get(role_key, 0) - (minus[2].get(role_key, 0) if minus else 0)
        return math.log((n_t + 1.0) / (n_r + 50.0))

    def features(
        self, context: Sequence[Garment], candidate: Garment, *, exclude: Sequence[Garment] | None = None
    ) -> np.ndarray:
        """The nine features of ``candidate`` given the ``context`` garments (module doc).
        ``exclude``: an outfit whose counts are taken out first (leave-one-out in training)."""
        minus = None
        if exclude is not None:
            u, p = _outfit_counts(exclude)
            minus = (u, p, Counter(_role_keys(exclude)))
        tc = candidate.tokens()
        out = np.zeros(len(FEATURES), dtype=np.float64)
        for i, lv in enumerate(LEVELS):
            vals = [
                self._pmi(tc[lv], h.tokens()[lv], minus[:2] if minus else None)
                for h in context
                if lv in tc and lv in h.tokens()
            ]
            out[i] = float(np.mean(vals)) if vals else 0.0
            base = self._prior(tc["c"], f"c:{candidate.role}", minus)
            out[len(LEVELS) + i] = self._prior(tc[lv], f"{lv}:{candidate.role}", minus) if lv in tc else base
        coloured = [h for h in context if h.colour]
        if candidate.colour and coloured:
            out[6] = sum(h.colour == candidate.colour for h in coloured) / len(coloured)
        labs = [h.lab for h in context if h.lab is not None]
        if candidate.lab is not None and labs:
            dists = [math.dist(candidate.lab, lab) for lab in labs]
            out[7], out[8] = 1 - min(dists) / 100, 1 - float(np.mean(dists)) / 100
        return out

    def logit(self, context: Sequence[Garment], candidate: Garment) -> float:
        """The model's log-odds that ``candidate`` belongs with ``context``."""
        w = self.role_weights.get(candidate.role, self.weights)
        return float(self.features(context, candidate) @ np.asarray(w, np.float64) + self.bias)

    def score_candidates(self, context: Sequence[Garment], candidates: Sequence[Garment]) -> np.ndarray:
        """Higher = fits the blank better (log-odds)."""
        return np.asarray([self.logit(context, c) for c in candidates], dtype=np.float64)

    def _balanced(self, z: float) -> float:
        """The probability with the 1 : ``negatives`` odds of the training questions taken out, so
        0.5 means "as likely as a random garment of its role"."""
        return _sigmoid(z + math.log(max(self.config.negatives, 1)))

    def pair_score(self, a: Garment, b: Garment) -> float:
        """How well two garments go together, in [0, 1] (both directions averaged; 0.5 = average)."""
        return self._balanced((self.logit([a], b) + self.logit([b], a)) / 2)

    def outfit_score(self, garments: Sequence[Garment]) -> float:
        """Mean over garments of how well each fits the rest, in [0, 1] (0.5 = as well as an average
        garment of its role); 0.5 for one garment."""
        if len(garments) < 2:
            return 0.5
        z = [self.logit([h for h in garments if h is not g], g) for g in garments]
        return float(np.mean([self._balanced(v) for v in z]))

    # persistence ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model_id": MODEL_ID,
            "features": list(FEATURES),
            "weights": [round(w, 6) for w in self.weights],
            "role_weights": {r: [round(w, 6) for w in ws] for r, ws in sorted(self.role_weights.items())},
            "bias": round(self.bias, 6),
            "config": asdict(self.config),
            "n_outfits": self.n_outfits,
            "role_totals": self.role_totals,
            "unigrams": dict(sorted(self.unigrams.items())),
            "pairs": dict(sorted(self.pairs.items())),
            "card": self.card,
        }

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, sort_keys=False) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> CompatibilityModel:
        path = Path(path)
        if not path.is_file():
            raise NotReadyError(f"{path}: no outfit compatibility model; train one with `{TRAIN_COMMAND}`")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
            weights = [float(w) for w in data["weights"]]
            role_weights = {str(r): [float(w) for w in ws] for r, ws in data.get("role_weights", {}).items()}
            for ws in (weights, *role_weights.values()):
                if len(ws) != len(FEATURES):
                    raise ValueError(f"{len(ws)} weights, expected {len(FEATURES)}")
            return cls(
                {str(k): int(v) for k, v in data["unigrams"].items()},
                {str(k): int(v) for k, v in data["pairs"].items()},
                int(data["n_outfits"]),
                {str(k): int(v) for k, v in data["role_totals"].items()},
                weights,
                role_weights,
                float(data["bias"]),
                CompatConfig(**data.get("config", {})),
                dict(data.get("card", {})),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInputError(f"{path}: not an outfit compatibility model ({exc})") from exc


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def _role_keys(garments: Sequence[Garment]) -> set[str]:
    keys = set()
    for g in garments:
        for lv in g.tokens():
            keys.add(f"{lv}:{g.role}")
    return keys


# -- fill-in-the-blank questions ------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    outfit: str
    context: tuple[Garment, ...]
    answer: Garment
    wrong: tuple[Garment, ...]


def fitb_questions(
    outfits: Sequence[Outfit], n_wrong: int = 3, seed: int = 0, *, need_colour: bool = True
) -> list[Question]:
    """One question per garment of every outfit with at least two garments: the garment is the
    answer; ``n_wrong`` garments of the same role from *other* outfits, each different from the
    answer in class or colour (otherwise the question has no right answer), are the wrong ones.
    ``need_colour``: only garments with a colour take part (CCP's pixel-labelled photos)."""
    rng = np.random.default_rng(seed)
    pool: dict[str, list[tuple[int, Garment]]] = {}
    for i, o in enumerate(outfits):
        for g in o.garments:
            if g.role and (g.colour or not need_colour):
                pool.setdefault(g.role, []).append((i, g))
    out = []
    for i, o in enumerate(outfits):
        usable = [g for g in o.garments if g.role and (g.colour or not need_colour)]
        if len(o.garments) < 2:
            continue
        for g in usable:
            options = [h for j, h in pool.get(g.role, []) if j != i and h.identity != g.identity]
            if len({h.identity for h in options}) < n_wrong:
                continue
            wrong: list[Garment] = []
            seen = set()
            for k in rng.permutation(len(options)).tolist():
                h = options[k]
                if h.identity not in seen:
                    wrong.append(h)
                    seen.add(h.identity)
                if len(wrong) == n_wrong:
                    break
            context = tuple(h for h in o.garments if h is not g)
            out.append(Question(o.photo, context, g, tuple(wrong)))
    return out


def fit_compatibility(
    outfits: Sequence[Outfit], config: CompatConfig | None = None, progress: Progress = NO_PROGRESS
) -> CompatibilityModel:
    """Count the training outfits and fit the feature weights on leave-one-out FITB questions."""
    from sklearn.linear_model import LogisticRegression

    config = config or CompatConfig()
    if len(outfits) < 10:
        raise InvalidInputError(f"need at least 10 outfits to learn from; got {len(outfits)}")
    model = CompatibilityModel.count(outfits, config)
    by_photo = {o.photo: o for o in outfits}
    # the weights are fitted where colours are known (as they are for every wardrobe item)
    questions = fitb_questions([o for o in outfits if o.source == "pixel"], config.negatives, config.seed)
    progress.start(len(questions), "compatibility questions")
    xs, ys = [], []
    k = len(FEATURES)
    for q in questions:
        whole = by_photo[q.outfit].garments
        for g, y in ((q.answer, 1), *((w, 0) for w in q.wrong)):
            f = model.features(q.context, g, exclude=whole)
            per_role = np.zeros(len(ROLES) * k)
            per_role[ROLES.index(g.role) * k : (ROLES.index(g.role) + 1) * k] = f
            xs.append(np.concatenate([f, per_role]))  # shared weights + a correction per role
            ys.append(y)
        progress.advance(1)
    clf = LogisticRegression(C=config.C, max_iter=5000)
    clf.fit(np.stack(xs), np.asarray(ys))
    coef = clf.coef_[0]
    model.weights = [float(w) for w in coef[:k]]
    model.role_weights = {
        r: [float(w) for w in coef[:k] + coef[k + i * k : k + (i + 1) * k]] for i, r in enumerate(ROLES)
    }
    model.bias = float(clf.intercept_[0])
    model.card = {
        "trained_on": f"{len(outfits)} outfits ({sum(o.source == 'pixel' for o in outfits)} with colours)",
        "questions": len(questions),
        "features": dict(zip(FEATURES, model.weights, strict=True)),
    }
    logger.info(
        "outfit compatibility: %d outfits, %d questions, weights %s",
        len(outfits),
        len(questions),
        model.weights,
    )
    return model


def own_model_path(settings: Settings) -> Path:
    """Where a model you train yourself goes (found before the shipped one)."""
    return settings.models_dir / "outfits" / SHIPPED_FILE


def load_default(settings: Settings) -> CompatibilityModel:
    """Your own model under ``HOME/models/outfits`` if there is one, else the one the package ships."""
    from fashionlens.models.weights import shipped_path

    own = own_model_path(settings)
    return CompatibilityModel.load(own if own.is_file() else shipped_path(SHIPPED_FILE))
