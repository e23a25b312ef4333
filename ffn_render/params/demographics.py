"""Who a prior identity is: sex, age, ancestry, skin tone and hairstyle, drawn once per record.

The shape prior and the procedural appearance both read these, so a face's
geometry and its painted skin tell one story (a woman's proportions with a
woman's brows and hair, an East Asian midface with an East Asian tone
range). Records from images (EMOCA, fitted) have none: their identity is
already in β, and the appearance falls back to its own seed.

Ancestry groups are broad geographic populations with the mixes people
have, not boundaries: each group has a Monk skin-tone distribution (Monk
0 lightest .. 9 darkest) and mean shifts of the built-in head's designed
shape components in their σ units, after the directions of anthropometric
group differences (Farkas et al., "International anthropometric study of
facial morphology in various ethnic groups/races", J. Craniofac. Surg.
2005): wider, flatter noses and fuller, everted lips in West African
faces; a lower nasal bridge, less projection, a wider midface and fuller
upper lids in East Asian faces; a higher, narrower, projecting nose and
deeper-set eyes in European faces; a long, high-bridged nose in Middle
Eastern faces. Within-group spread stays larger than any shift, as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ParamsError
from ..facemodel.builtin_blendshapes import HAIR_COMPONENTS
from ..vocabulary import HAIR_STYLES

MIN_AGE, MAX_AGE = 18.0, 80.0
MONK_RANGE = (0.0, 9.0)
# Share of identities, (mean, σ) of the Monk tone, and mean shape shifts (σ units of named components).
ANCESTRIES: dict[str, tuple[float, tuple[float, float], dict[str, float]]] = {
    "european": (0.18, (1.4, 0.9), {
        "nose_bridge": 0.9, "nose_projection": 0.7, "nose_width": -0.6, "nose_tip_width": -0.4, "eye_depth": 0.7,
        "brow_ridge": 0.4, "lip_thickness": -0.4, "upper_lip_fullness": -0.3, "mouth_protrusion": -0.5,
        "face_width": -0.3, "head_length": 0.4,
    }),
    "african": (0.18, (7.2, 1.1), {
        "nose_width": 1.4, "nose_tip_width": 1.0, "nose_bridge": -0.7, "nose_bridge_width": 0.8, "nose_projection": -0.4,
        "lip_thickness": 1.3, "upper_lip_fullness": 1.0, "lower_lip_fullness": 1.0, "mouth_protrusion": 1.1,
        "mouth_width": 0.5, "head_length": 0.5, "cheekbones": 0.3, "forehead_slope": -0.3,
    }),
    "east_asian": (0.18, (2.6, 0.9), {
        "nose_bridge": -1.1, "nose_projection": -0.8, "nose_bridge_width": 0.6, "nose_width": 0.3, "face_width": 0.8,
        "cheekbones": 0.8, "eye_depth": -0.9, "eye_opening": -0.8, "eye_roundness": -0.5, "brow_ridge": -0.8,
        "head_length": -0.7, "head_width": 0.5, "eye_spacing": 0.4,
    }),
    "south_asian": (0.15, (5.0, 1.1), {
        "nose_length": 0.4, "nose_bridge": 0.3, "eye_depth": 0.3, "lip_thickness": 0.3, "face_width": -0.2,
        "eye_opening": 0.3, "brow_height": -0.3,
    }),
    "southeast_asian": (0.10, (4.3, 1.0), {
        "nose_bridge": -0.8, "nose_width": 0.7, "nose_projection": -0.5, "face_width": 0.5, "cheekbones": 0.6,
        "eye_depth": -0.5, "eye_opening": -0.3, "lip_thickness": 0.5, "mouth_protrusion": 0.5, "head_length": -0.4,
    }),
    "middle_eastern": (0.11, (3.4, 1.0), {
        "nose_length": 0.8, "nose_hump": 0.8, "nose_bridge": 0.8, "nose_tip_rotation": -0.5, "eye_depth": 0.5,
        "brow_ridge": 0.4, "face_length": 0.4, "brow_height": -0.4,
    }),
    "latin_american": (0.10, (3.8, 1.3), {
        "nose_width": 0.3, "nose_bridge": -0.2, "face_width": 0.3, "cheekbones": 0.4, "lip_thickness": 0.2,
    }),
}
# Probability of each hairstyle by sex (female, male) before age and ancestry adjust it.
_STYLE_WEIGHTS = {
    "bald": (0.01, 0.12),
    "shaved": (0.03, 0.12),
    "receding": (0.02, 0.18),
    "short": (0.18, 0.46),
    "long": (0.40, 0.06),
    "bob": (0.18, 0.01),
    "afro": (0.06, 0.04),
    "bun": (0.12, 0.01),
}
# Sex-typical shape (σ units of `masculinity`): the component combines brow, jaw, chin, nose and lips.
MASCULINITY_MEAN = 1.3
# Age cues: σ units of `age_sagging` / `nasolabial_folds` per year from 45 years.
AGE_SAGGING_PER_YEAR = 1.0 / 16.0
AGE_FOLDS_PER_YEAR = 1.0 / 18.0
# A component a demographic shifts keeps this share of its σ around the shifted mean.
CONDITIONED_SIGMA = 0.8
# The components that ARE sex and age keep CONDITIONED_SIGMA of one σ around their mean however wide the
# prior draws the rest: widened with it, men and women (and the young and old) would overlap far more than
# people do, and the painted person would disagree with the shape (13 % of men female-typical at 1.5 σ).
TRAIT_COMPONENTS = ("masculinity", "age_sagging", "nasolabial_folds")


@dataclass(frozen=True)
class Demographics:
    """One prior identity's sex, age, ancestry, Monk skin tone and hairstyle (recorded in its ParamRecord)."""

    male: bool
    age: float  # years, MIN_AGE .. MAX_AGE
    ancestry: str  # a key of ANCESTRIES
    tone: float  # Monk scale, 0 (lightest) .. 9 (darkest)
    hair_style: str  # one of HAIR_STYLES

    def __post_init__(self) -> None:
        if not isinstance(self.male, bool):
            raise ParamsError(f"demographics: male must be true or false, got {self.male!r}")
        for name, (low, high) in (("age", (MIN_AGE, MAX_AGE)), ("tone", MONK_RANGE)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ParamsError(f"demographics: {name} must be a number in {low:g}..{high:g}, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.ancestry not in ANCESTRIES:
            raise ParamsError(f"demographics: unknown ancestry {self.ancestry!r} (expected one of {', '.join(ANCESTRIES)})")
        if self.hair_style not in HAIR_STYLES:
            raise ParamsError(f"demographics: unknown hair_style {self.hair_style!r} (expected one of {', '.join(HAIR_STYLES)})")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Any) -> "Demographics":
        if isinstance(obj, Demographics):
            return obj
        if not isinstance(obj, Mapping):
            raise ParamsError(f"demographics must be a JSON object, got {type(obj).__name__}")
        fields = ("male", "age", "ancestry", "tone", "hair_style")
        missing = [key for key in fields if key not in obj]
        unknown = sorted(set(obj) - set(fields))
        if missing or unknown:
            raise ParamsError(f"demographics: missing field(s) {missing or 'none'}, unknown field(s) {unknown or 'none'}")
        return cls(**{key: obj[key] for key in fields})


def demographics_rng(record_seed: int) -> np.random.Generator:
    """The demographics' own stream of a record seed (the record's β, θ, ψ draws stay as they were)."""
    return np.random.default_rng([int(record_seed), 0x44454D4F])  # "DEMO"


def _choose(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _style_weights(male: bool, age: float, ancestry: str) -> dict[str, float]:
    weights = {style: female_male[int(male)] for style, female_male in _STYLE_WEIGHTS.items()}
    if male:  # male pattern baldness rises with age
        weights["bald"] *= min(2.0, 0.2 + age / 40.0)
        weights["receding"] *= min(1.6, 0.3 + age / 45.0)
    if ancestry == "african":  # tightly coiled hair: afro and close-cropped styles are common
        weights["afro"] *= 4.0
        weights["shaved"] *= 2.0
        weights["long"] *= 0.5
    return weights


def sample_demographics(record_seed: int) -> Demographics:
    """The demographics of the prior record with seed ``record_seed`` (deterministic)."""
    rng = demographics_rng(record_seed)
    ancestry = _choose(rng, {name: share for name, (share, _, _) in ANCESTRIES.items()})
    male = bool(rng.random() < 0.5)
    age = float(rng.uniform(MIN_AGE, MAX_AGE))
    mean, sigma = ANCESTRIES[ancestry][1]
    tone = float(np.clip(rng.normal(mean, sigma), *MONK_RANGE))
    return Demographics(male=male, age=age, ancestry=ancestry, tone=tone, hair_style=_choose(rng, _style_weights(male, age, ancestry)))


def shape_conditioning(
    demographics: Demographics, shape_names: Sequence[str], draw_sigma: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale of the draw) per named shape component for this person; components no demographic touches
    get (0, 1).

    The draws have σ ``draw_sigma``; the TRAIT_COMPONENTS' scale brings theirs back to CONDITIONED_SIGMA.
    Hair volume components are set, not drawn: their scale is 0.
    """
    means = dict(ANCESTRIES[demographics.ancestry][2])
    means["masculinity"] = MASCULINITY_MEAN if demographics.male else -MASCULINITY_MEAN
    years = demographics.age - 45.0
    means["age_sagging"] = years * AGE_SAGGING_PER_YEAR
    means["nasolabial_folds"] = years * AGE_FOLDS_PER_YEAR
    if not demographics.male:  # women's brows sit higher above the eyes
        means["brow_height"] = means.get("brow_height", 0.0) + 0.5
    hair = hair_volume(demographics.hair_style)
    mean = np.zeros(len(shape_names))
    scale = np.ones(len(shape_names))
    for k, name in enumerate(shape_names):
        if name in hair:
            mean[k], scale[k] = hair[name], 0.0
        elif name in means:
            mean[k], scale[k] = means[name], CONDITIONED_SIGMA / (draw_sigma if name in TRAIT_COMPONENTS else 1.0)
    return mean, scale


# Each hair component's coefficient by hairstyle (styles not named: 0).
_HAIR_BY_STYLE = {
    "hair_volume": {"afro": 2.5, "bob": 1.0, "long": 0.7, "bun": 0.3, "short": 0.4},
    "hair_bun": {"bun": 2.5},
    "hair_long": {"long": 1.0},
    "hair_bob": {"bob": 1.0},
}


def hair_volume(style: str) -> dict[str, float]:
    """Coefficients of the hair geometry components (HAIR_COMPONENTS) for a hairstyle (σ units; 0 = the bare
    scalp): where a face model has them (the built-in head from v5), the hair's volume is head geometry."""
    return {name: _HAIR_BY_STYLE[name].get(style, 0.0) for name in HAIR_COMPONENTS}
