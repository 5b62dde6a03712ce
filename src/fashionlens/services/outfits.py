"""Complete outfits from the pieces you own, each with a score and the reasons for it.

An outfit is a top and a bottom, or a dress; outerwear when the season asks for it (autumn and
winter; optional in spring; never in summer); footwear (when you own any); optionally a bag and an
accessory, added only when they raise the score. Its score, in [0, 1], is a weighted mean of four
parts, each in [0, 1] (`SCORE_WEIGHTS`; chosen by hand, not fitted; the colour rule weighs least
because, alone, it ranks the garments real street outfits pair below chance:
``benchmarks/bench_wardrobe.py``):

- **colour harmony** (`colour_harmony`): neutrals (black, white, grey, brown, and any colour of low
  chroma such as navy or denim) go with anything; one accent colour on neutrals is best; two accents
  are fine when their hues are close (analogous, <= 45 degrees in Lab) or opposite (complementary,
  130-230); more accents clash;
- **season**: every piece made for the requested season (or all seasons); a neighbouring season
  counts half; without a requested season, pieces must not mix summer and winter;
- **formality**: the pieces' formality levels (sport 0, casual 1, smart 2, formal 3) agree with each
  other and with the occasion's level;
- **learned compatibility**: `CompatibilityModel.outfit_score`, learned from real street outfits
  (`fashionlens.training.outfits`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fashionlens.core.errors import InvalidInputError

SCORE_WEIGHTS = {"colour": 0.15, "season": 0.2, "formality": 0.2, "learned": 0.45}
NEUTRALS = frozenset({"black", "white", "grey", "brown"})
LOW_CHROMA = 18.0  # Lab chroma under this is a neutral whatever its name (navy, denim, khaki)
# Lab hue angle (degrees) of each colour name, for pieces that have a name but no measured Lab
NAME_HUES = {
    "red": 35.0,
    "orange": 60.0,
    "yellow": 95.0,
    "green": 145.0,
    "blue": 275.0,
    "purple": 315.0,
    "pink": 355.0,
}
SEASONS = ("spring", "summer", "autumn", "winter")
SEASON_ALIASES = {"fall": "autumn", "all": "", "all seasons": "", "any": ""}
OUTERWEAR_SEASONS = {"autumn": "required", "winter": "required", "spring": "optional", "summer": "never"}
FORMALITY_LEVELS = {
    "sport": 0,
    "sports": 0,
    "athletic": 0,
    "casual": 1,
    "travel": 1,
    "smart": 2,
    "smart casual": 2,
    "business": 2,
    "ethnic": 2,
    "party": 3,
    "formal": 3,
}
OCCASIONS = {
    "gym": 0,
    "sport": 0,
    "casual": 1,
    "weekend": 1,
    "travel": 1,
    "work": 2,
    "office": 2,
    "date": 2,
    "party": 3,
    "formal": 3,
    "wedding": 3,
}


def normalise_season(value: str | None) -> str:
    """``Fall``/``autumn`` -> ``autumn``; "", all, any -> "" (no season); else one of `SEASONS`."""
    s = (value or "").strip().lower()
    s = SEASON_ALIASES.get(s, s)
    if s and s not in SEASONS:
        raise InvalidInputError(f"season must be one of {', '.join(SEASONS)} (or all); got {value!r}")
    return s


def formality_level(value: str | None) -> int | None:
    return FORMALITY_LEVELS.get((value or "").strip().lower())


def occasion_level(value: str | None) -> int | None:
    if not value:
        return None
    v = value.strip().lower()
    if v in OCCASIONS:
        return OCCASIONS[v]
    if v in FORMALITY_LEVELS:
        return FORMALITY_LEVELS[v]
    raise InvalidInputError(f"occasion must be one of {', '.join(sorted(OCCASIONS))}; got {value!r}")


@dataclass(frozen=True)
class Piece:
    """What outfit building needs to know about one item."""

    item_id: str
    role: str
    category: str
    colour: str = ""
    lab: tuple[float, float, float] | None = None
    season: str = ""
    formality: str = ""
    name: str = ""


# -- colour harmony --------------------------------------------------------------------------------
def _hue(colour: str, lab: tuple[float, float, float] | None) -> float | None:
    """The hue of an accent colour in degrees, or None for a neutral."""
    if colour in NEUTRALS or not colour:
        return None
    if lab is not None:
        chroma = math.hypot(lab[1], lab[2])
        if chroma < LOW_CHROMA:
            return None
        return math.degrees(math.atan2(lab[2], lab[1])) % 360
    return NAME_HUES.get(colour)


def _hue_gap(a: float, b: float) -> float:
    d = abs(a - b) % 360
    return min(d, 360 - d)


def colour_harmony(colours: Sequence[tuple[str, tuple[float, float, float] | None]]) -> tuple[float, str]:
    """Score in [0, 1] and the reason, for the main colours of an outfit's pieces (module doc)."""
    accents: list[tuple[str, float]] = []
    for name, lab in colours:
        h = _hue(name, lab)
        if h is not None:
            accents.append((name, h))
    names = sorted({n for n, _ in accents})
    if not accents:
        return 0.9, "all neutrals"
    if len(names) == 1:
        return 1.0, f"one accent colour ({names[0]}) on neutrals"
    hues = [h for _, h in accents]
    gaps = [_hue_gap(a, b) for a, b in itertools.combinations(hues, 2)]
    if len(names) == 2:
        if max(gaps) <= 45:
            return 0.85, f"analogous colours ({' and '.join(names)})"
        if all(130 <= g <= 230 or g <= 45 for g in gaps):
            return 0.75, f"complementary colours ({' and '.join(names)})"
        return 0.4, f"{' and '.join(names)} clash"
    if max(gaps) <= 60:
        return 0.6, f"neighbouring colours ({', '.join(names)})"
    return 0.25, f"{len(names)} accent colours ({', '.join(names)}) compete"


# -- season and formality --------------------------------------------------------------------------
def _season_gap(a: str, b: str) -> int:
    i, j = SEASONS.index(a), SEASONS.index(b)
    d = abs(i - j)
    return min(d, 4 - d)


def season_agreement(pieces: Sequence[Piece], season: str = "") -> tuple[float, str]:
    seasons = [normalise_season(p.season) for p in pieces]
    known = [s for s in seasons if s]
    if season:
        if not known:
            return 0.75, "season unknown for every piece"
        per = [
            1.0 if not s or s == season else (0.5 if _season_gap(s, season) == 1 else 0.0) for s in seasons
        ]
        off = sorted({s for s in known if _season_gap(s, season) > 0})
        score = sum(per) / len(per)
        return score, f"made for {season}" if not off else f"{', '.join(off)} pieces in {season}"
    if "summer" in known and "winter" in known:
        return 0.2, "mixes summer and winter pieces"
    return (1.0, "seasons agree") if known else (0.75, "season unknown")


def formality_agreement(pieces: Sequence[Piece], occasion: str | None = None) -> tuple[float, str]:
    levels = [lv for lv in (formality_level(p.formality) for p in pieces) if lv is not None]
    target = occasion_level(occasion)
    if not levels:
        return 0.75, "formality unknown"
    spread = (max(levels) - min(levels)) / 3
    score = 1.0 - spread
    reason = "formality agrees" if spread == 0 else "mixes formality levels"
    if target is not None:
        off = sum(abs(lv - target) for lv in levels) / (3 * len(levels))
        score = (score + 1.0 - off) / 2
        reason += f"; {'fits' if off < 0.2 else 'off for'} {occasion}"
    return score, reason


# -- outfits --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutfitRequest:
    season: str | None = None
    occasion: str | None = None
    with_items: tuple[str, ...] = ()
    n: int = 5
    extras: bool = True  # try a bag and an accessory

    def __post_init__(self) -> None:
        if self.n < 1:
            raise InvalidInputError(f"n must be >= 1; got {self.n}")
        normalise_season(self.season)
        occasion_level(self.occasion)


@dataclass
class Suggestion:
    slots: dict[str, str]  # role -> item_id
    score: float
    parts: dict[str, float]
    reasons: list[str]
    pieces: dict[str, Piece] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "slots": dict(self.slots),
            "score": round(self.score, 4),
            "parts": {k: round(v, 4) for k, v in self.parts.items()},
            "reasons": list(self.reasons),
        }


class OutfitBuilder:
    """Scores and builds outfits from `Piece`s; ``model`` is a `CompatibilityModel` (None: the
    learned part is left out and the other weights renormalised)."""

    def __init__(self, model: Any = None) -> None:
        self.model = model
        self._garments: dict[str, Any] = {}

    def _garment(self, p: Piece) -> Any:
        if p.item_id not in self._garments:
            from fashionlens.training.outfits import Garment

            self._garments[p.item_id] = Garment(p.category, p.colour, p.lab)
        return self._garments[p.item_id]

    def score(self, pieces: Sequence[Piece], season: str = "", occasion: str | None = None) -> Suggestion:
        """Score one set of pieces (slots by role; a second piece of a role gets ``role2``)."""
        parts: dict[str, float] = {}
        reasons: list[str] = []
        parts["colour"], why = colour_harmony([(p.colour, p.lab) for p in pieces])
        reasons.append(why)
        parts["season"], why = season_agreement(pieces, normalise_season(season))
        reasons.append(why)
        parts["formality"], why = formality_agreement(pieces, occasion)
        reasons.append(why)
        if self.model is not None:
            parts["learned"] = self.model.outfit_score([self._garment(p) for p in pieces])
            reasons.append(f"street outfits {'often' if parts['learned'] >= 0.5 else 'rarely'} pair these")
        weights = {k: SCORE_WEIGHTS[k] for k in parts}
        total = sum(weights[k] * parts[k] for k in parts) / sum(weights.values())
        slots: dict[str, str] = {}
        by_role: dict[str, Piece] = {}
        for p in pieces:
            role = p.role if p.role not in slots else f"{p.role}2"
            slots[role] = p.item_id
            by_role[role] = p
        return Suggestion(slots, total, parts, reasons, by_role)

    def suggest(self, pieces: Sequence[Piece], request: OutfitRequest | None = None) -> list[Suggestion]:
        """The best ``request.n`` complete outfits (one per top+bottom or dress; best first)."""
        req = request or OutfitRequest()
        season = normalise_season(req.season)
        pool = [p for p in pieces if p.role and _fits_season(p, season)]
        by_role: dict[str, list[Piece]] = {}
        for p in pool:
            by_role.setdefault(p.role, []).append(p)
        wanted = {i: None for i in req.with_items}
        forced = [p for p in pieces if p.item_id in wanted]
        missing = set(wanted) - {p.item_id for p in forced}
        if missing:
            raise InvalidInputError(f"not in the closet: {', '.join(sorted(missing))}")
        forced_roles = {p.role: p for p in forced}
        bases: list[list[Piece]] = []
        tops = [forced_roles["top"]] if "top" in forced_roles else by_role.get("top", [])
        bottoms = [forced_roles["bottom"]] if "bottom" in forced_roles else by_role.get("bottom", [])
        if "dress" not in forced_roles:
            bases += [[t, b] for t in tops for b in bottoms]
        if "top" not in forced_roles and "bottom" not in forced_roles:
            dresses = [forced_roles["dress"]] if "dress" in forced_roles else by_role.get("dress", [])
            bases += [[d] for d in dresses]
        outer_rule = OUTERWEAR_SEASONS.get(season, "optional") if season else "optional"
        out = []
        for base in bases:
            outfit = list(base)
            for role, rule in (("footwear", "required"), ("outerwear", outer_rule)):
                if rule == "never" and role not in forced_roles:
                    continue
                options = [forced_roles[role]] if role in forced_roles else by_role.get(role, [])
                outfit = self._best_addition(
                    outfit, options, season, req.occasion, required=rule == "required"
                )
            if req.extras:
                for role in ("bag", "accessory"):
                    options = [forced_roles[role]] if role in forced_roles else by_role.get(role, [])
                    outfit = self._best_addition(
                        outfit, options, season, req.occasion, required=role in forced_roles
                    )
            if all(p in outfit for p in forced):
                out.append(self.score(outfit, season, req.occasion))
        out.sort(key=lambda s: (-s.score, sorted(s.slots.values())))
        return out[: req.n]

    def _best_addition(
        self,
        outfit: list[Piece],
        options: Sequence[Piece],
        season: str,
        occasion: str | None,
        *,
        required: bool,
    ) -> list[Piece]:
        if not options:
            return outfit
        current = None if required else self.score(outfit, season, occasion).score
        best, best_score = None, -1.0
        for p in options:
            s = self.score([*outfit, p], season, occasion).score
            if s > best_score:
                best, best_score = p, s
        if best is None or (current is not None and best_score <= current):
            return outfit
        return [*outfit, best]


def _fits_season(p: Piece, season: str) -> bool:
    s = normalise_season(p.season)
    return not season or not s or _season_gap(s, season) < 2


# -- gaps -----------------------------------------------------------------------------------------
GOOD_OUTFIT = 0.6  # an outfit scoring under this is not one you would wear
PARTNER = {"top": "bottom", "bottom": "top", "dress": "footwear", "outerwear": "bottom", "footwear": "bottom"}
COLOUR_ORDER = (
    "black",
    "white",
    "grey",
    "blue",
    "brown",
    "red",
    "green",
    "pink",
    "purple",
    "orange",
    "yellow",
)


def wardrobe_gaps(
    pieces: Sequence[Piece], builder: OutfitBuilder, season: str | None = None
) -> list[dict[str, Any]]:
    """What no outfit can fill now: missing roles (no footwear; no top+bottom and no dress; no
    outerwear for autumn or winter), and per role the colours that would give the pieces with no
    good outfit (score < `GOOD_OUTFIT` or clashing colours) a partner. Each gap is a dict:
    ``kind`` (role | colour), ``role``, ``reason``, ``colours`` (suggested), ``items`` (that need it)."""
    s = normalise_season(season)
    roles = {p.role for p in pieces if p.role}
    gaps: list[dict[str, Any]] = []

    def role_gap(role: str, reason: str) -> None:
        gaps.append(
            {
                "kind": "role",
                "role": role,
                "reason": reason,
                "colours": ["black", "white", "grey"],
                "items": [],
            }
        )

    if "dress" not in roles and not ({"top", "bottom"} <= roles):
        missing = [r for r in ("top", "bottom") if r not in roles]
        role_gap("/".join(missing), f"no complete outfit: no {' or '.join(missing)} and no dress")
    if "footwear" not in roles:
        role_gap("footwear", "no footwear: every outfit needs a pair")
    if s in ("autumn", "winter") and "outerwear" not in roles:
        role_gap("outerwear", f"no outerwear for {s}")
    by_role: dict[str, list[dict[str, Any]]] = {}
    owned = {(p.role, p.colour) for p in pieces}
    for p in pieces:
        partner = PARTNER.get(p.role)
        if partner is None:
            continue
        best = (
            None
            if partner not in roles
            else builder.suggest(
                pieces, OutfitRequest(season=s or None, with_items=(p.item_id,), n=1, extras=False)
            )
        )
        if best and best[0].score >= GOOD_OUTFIT and best[0].parts["colour"] >= 0.75:
            continue
        fits = [c for c in COLOUR_ORDER if colour_harmony([(p.colour, p.lab), (c, None)])[0] >= 0.85]
        new = [c for c in fits if (partner, c) not in owned] or fits
        by_role.setdefault(partner, []).append({"item": p, "colours": new})
    for role, needs in sorted(by_role.items()):
        counts: dict[str, int] = {}
        for n in needs:
            for c in n["colours"]:
                counts[c] = counts.get(c, 0) + 1
        colours = sorted(counts, key=lambda c: (-counts[c], COLOUR_ORDER.index(c)))[:4]
        names = ", ".join(n["item"].name or n["item"].item_id for n in needs[:3])
        more = f" and {len(needs) - 3} more" if len(needs) > 3 else ""
        gaps.append(
            {
                "kind": "colour",
                "role": role,
                "reason": f"no {role} makes a good outfit with {names}{more}",
                "colours": colours,
                "items": [n["item"].item_id for n in needs],
            }
        )
    return gaps
