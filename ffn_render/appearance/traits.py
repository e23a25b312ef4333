"""The per-identity choices behind a procedural albedo: who the painted person is.

Drawn from the sequence seed with probabilities that keep combinations
plausible: facial hair mostly on men, greying and age lines with age,
darker hair and eyes more often on darker skin, hairstyles by sex.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .config import AppearanceConfig
from .seeding import stream

N_MONK_TONES = 10
# sRGB colour of each hair shade and how often it is drawn on light (Monk 0–3) and dark (Monk 6–9) skin.
HAIR_COLOURS = {
    "black": ("#120e0c", 0.12, 0.70),
    "dark_brown": ("#2b1d15", 0.24, 0.25),
    "brown": ("#4a3122", 0.22, 0.05),
    "light_brown": ("#6e4f37", 0.12, 0.0),
    "auburn": ("#6b2e1a", 0.06, 0.0),
    "red": ("#8f3f1c", 0.04, 0.0),
    "dark_blonde": ("#8a6c45", 0.10, 0.0),
    "blonde": ("#b8975f", 0.07, 0.0),
    "platinum": ("#d2c3a0", 0.03, 0.0),
}
IRIS_COLOURS = {  # sRGB, weight on light skin, weight on dark skin
    "dark_brown": ("#2a180c", 0.22, 0.75),
    "brown": ("#57341a", 0.20, 0.22),
    "hazel": ("#6d5528", 0.14, 0.03),
    "amber": ("#86581b", 0.04, 0.0),
    "green": ("#4c6a3a", 0.10, 0.0),
    "grey": ("#6b7784", 0.08, 0.0),
    "blue": ("#4670a0", 0.16, 0.0),
    "light_blue": ("#7b9cc2", 0.06, 0.0),
}
# Probability of each hairstyle by sex (female, male); "long" covers the ears and the sides of the neck.
HAIR_STYLES = {
    "bald": (0.01, 0.14),
    "shaved": (0.03, 0.12),
    "receding": (0.03, 0.20),
    "short": (0.23, 0.46),
    "long": (0.70, 0.08),
}
# Facial hair styles for men who have any (women have none).
FACIAL_HAIR_STYLES = {"stubble": 0.35, "moustache": 0.1, "goatee": 0.15, "beard": 0.4}


@dataclass(frozen=True)
class SkinTraits:
    """One painted person (recorded in the sequence metadata)."""

    male: bool
    age: float  # years
    tone: float  # Monk scale, 0 (lightest) .. 9 (darkest)
    undertone: float  # −1 olive/golden .. +1 pink/red
    blush: float  # redness of cheeks, nose and ears, 0..1
    hair: str  # colour name (HAIR_COLOURS)
    grey: float  # share of grey hairs, 0..1
    hair_style: str  # HAIR_STYLES
    hairline: float  # front hairline height above the eyes, as a share of the eye-to-crown height
    recession: float  # extra temple recession (share of the eye-to-crown height): an M-shaped hairline
    sideburn: float  # how far the sideburns reach below eye level (m)
    facial_hair: str  # "none" or FACIAL_HAIR_STYLES
    beard_density: float  # 0..1
    brow_height: float  # lower edge of the brow above the eye centre (m)
    brow_arch: float  # rise of the arch above the brow's line (m)
    brow_peak: float  # where along the brow the arch peaks, 0 (inner) .. 1 (tail)
    brow_thickness: float  # at the inner end (m)
    brow_length: float  # (m)
    brow_density: float  # 0..1
    lash_strength: float  # darkening of the lid margins, 0..1
    iris: str  # colour name (IRIS_COLOURS)
    iris_inner: str  # colour of the ring around the pupil (central heterochromia when it differs)
    limbal_ring: float  # darkness of the iris rim, 0..1
    pupil_fraction: float  # pupil radius / iris radius
    lip_darkness: float  # 0..1
    lip_redness: float  # 0..1
    freckles: float  # density, 0 = none
    moles: int

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def bald(self) -> bool:
        return self.hair_style == "bald"


def _choose(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=np.float64)
    return names[rng.choice(len(names), p=p / p.sum())]


def _by_tone(table: dict[str, tuple[str, float, float]], tone: float) -> dict[str, float]:
    """Weights interpolated between the light-skin (Monk ≤ 3) and dark-skin (Monk ≥ 6) columns."""
    dark = float(np.clip((tone - 3.0) / 3.0, 0.0, 1.0))
    return {name: (1 - dark) * light_w + dark * dark_w for name, (_, light_w, dark_w) in table.items()}


def sample_traits(seed: int, config: AppearanceConfig | None = None) -> SkinTraits:
    """Draw one painted person for ``seed``."""
    config = config or AppearanceConfig()
    rng = stream(seed, "albedo.traits")
    male = bool(rng.random() < config.male_probability)
    age = float(rng.uniform(*config.age_years))
    tone = float(rng.uniform(*config.skin_tone))
    sex = int(male)
    styles = {name: p[sex] for name, p in HAIR_STYLES.items()}
    styles["bald"] *= config.bald_probability / 0.1 * min(1.0, 0.3 + age / 60.0)  # balding rises with age
    styles["receding"] *= min(1.0, 0.3 + age / 50.0)
    style = _choose(rng, styles)
    facial = "none"
    if male and rng.random() < config.facial_hair_probability:
        facial = _choose(rng, FACIAL_HAIR_STYLES)
    grey = float(np.clip((age - 38.0) / 40.0 + rng.normal(0.0, 0.08), 0.0, 1.0))
    iris = _choose(rng, _by_tone(IRIS_COLOURS, tone))
    return SkinTraits(
        male=male,
        age=age,
        tone=tone,
        undertone=float(rng.uniform(-1.0, 1.0)),
        blush=float(rng.uniform(0.0, 1.0)),
        hair=_choose(rng, _by_tone(HAIR_COLOURS, tone)),
        grey=grey,
        hair_style=style,
        hairline=float(rng.uniform(0.5, 0.64)),
        recession=float(rng.uniform(0.0, 0.1) + (rng.uniform(0.08, 0.25) if style == "receding" else 0.0)),
        sideburn=float(rng.uniform(0.0, 0.03) if male else rng.uniform(-0.01, 0.01)),
        facial_hair=facial,
        beard_density=float(rng.uniform(0.45, 1.0)),
        brow_height=float(rng.uniform(0.009, 0.014)),
        brow_arch=float(rng.uniform(0.001, 0.005) if male else rng.uniform(0.003, 0.008)),
        brow_peak=float(rng.uniform(0.5, 0.75)),
        brow_thickness=float(rng.uniform(0.006, 0.011) if male else rng.uniform(0.0035, 0.008)),
        brow_length=float(rng.uniform(0.042, 0.055)),
        brow_density=float(rng.uniform(0.45, 1.0)),
        lash_strength=float(rng.uniform(0.5, 0.9) if male else rng.uniform(0.7, 1.0)),
        iris=iris,
        iris_inner=iris if rng.random() < 0.6 else _choose(rng, _by_tone(IRIS_COLOURS, tone)),
        limbal_ring=float(rng.uniform(0.2, 0.9) * (1.2 - age / 100.0)),
        pupil_fraction=float(rng.uniform(0.28, 0.42)),
        lip_darkness=float(rng.uniform(0.0, 1.0)),
        lip_redness=float(rng.uniform(0.0, 1.0)),
        freckles=float(rng.uniform(0.3, 1.0)) if rng.random() < config.freckles_probability * (1.2 - tone / 9) else 0.0,
        moles=int(rng.poisson(2.0 + age / 25.0)),
    )


def hex_srgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) / 255.0 for i in (1, 3, 5)])
