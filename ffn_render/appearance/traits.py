"""The per-identity choices behind a procedural albedo: who the painted person is.

Drawn from the sequence seed with probabilities that keep combinations
plausible: facial hair mostly on men, greying and age lines with age,
darker hair and eyes more often on darker skin, hairstyles by sex. When the
identity's demographics are known (sex, age, ancestry, Monk tone and
hairstyle drawn by the shape prior), the painted person takes them as they
are and draws the rest from the ancestry's own tables (hair colour and
texture, eye colour, undertone, brows, beard growth, freckles), so the
painted face and the shaped face are the same person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Protocol

import numpy as np

from ..vocabulary import HAIR_STYLES
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
# Probability of each hairstyle (vocabulary.HAIR_STYLES) by sex (female, male) when no demographics name one;
# "long" covers the ears and the sides of the neck, "bob" ends at the jaw, "afro" is a full rounded volume, "bun"
# is pulled back tight.
HAIR_STYLE_WEIGHTS = {
    "bald": (0.01, 0.14),
    "shaved": (0.03, 0.12),
    "receding": (0.03, 0.20),
    "short": (0.20, 0.44),
    "long": (0.40, 0.06),
    "bob": (0.18, 0.01),
    "afro": (0.05, 0.02),
    "bun": (0.10, 0.01),
}
# Hairstyles whose hair covers the ears.
EAR_COVERING_STYLES = ("long", "bob", "afro")
HAIR_TEXTURES = ("straight", "wavy", "coiled")


@dataclass(frozen=True)
class AncestryLooks:
    """What an ancestry group changes in the painted person (broad population tendencies, never rules)."""

    hair: dict[str, float]  # hair colour weights (HAIR_COLOURS names)
    iris: dict[str, float]  # eye colour weights (IRIS_COLOURS names)
    texture: dict[str, float]  # hair texture weights (HAIR_TEXTURES)
    undertone: tuple[float, float]  # range on the olive (−1) .. pink (+1) axis
    brow_density: tuple[float, float]
    brow_thickness: float  # factor on the sex's brow thickness range
    brow_arch: float  # factor on the sex's arch range (East Asian brows are straighter)
    beard_probability: float  # factor on facial_hair_probability
    beard_density: tuple[float, float]
    freckles: float  # factor on freckles_probability
    no_crease: float = 0.05  # share of people without a visible upper-lid crease (a monolid or a hooded lid)


_DARK_HAIR = {"black": 0.7, "dark_brown": 0.28, "brown": 0.02}
_DARK_EYES = {"dark_brown": 0.8, "brown": 0.2}
ANCESTRY_LOOKS = {
    "european": AncestryLooks(
        hair={"black": 0.05, "dark_brown": 0.25, "brown": 0.24, "light_brown": 0.13, "auburn": 0.06, "red": 0.04,
              "dark_blonde": 0.12, "blonde": 0.08, "platinum": 0.03},
        iris={"dark_brown": 0.08, "brown": 0.2, "hazel": 0.14, "amber": 0.03, "green": 0.13, "grey": 0.1, "blue": 0.24,
              "light_blue": 0.08},
        texture={"straight": 0.55, "wavy": 0.4, "coiled": 0.05}, undertone=(-0.4, 1.0), brow_density=(0.4, 1.0),
        brow_thickness=1.0, brow_arch=1.0, beard_probability=1.0, beard_density=(0.5, 1.0), freckles=1.6,
    ),
    "african": AncestryLooks(
        hair={"black": 0.85, "dark_brown": 0.15}, iris={"dark_brown": 0.9, "brown": 0.1},
        texture={"coiled": 0.9, "wavy": 0.1}, undertone=(-0.6, 0.5), brow_density=(0.5, 1.0),
        brow_thickness=1.0, brow_arch=1.1, beard_probability=1.0, beard_density=(0.4, 0.9), freckles=0.1,
    ),
    "east_asian": AncestryLooks(
        hair={"black": 0.75, "dark_brown": 0.25}, iris=_DARK_EYES, texture={"straight": 0.9, "wavy": 0.1},
        undertone=(-1.0, 0.3), brow_density=(0.3, 0.8), brow_thickness=0.85, brow_arch=0.5,
        beard_probability=0.5, beard_density=(0.25, 0.6), freckles=0.5, no_crease=0.5,
    ),
    "southeast_asian": AncestryLooks(
        hair=_DARK_HAIR, iris=_DARK_EYES, texture={"straight": 0.75, "wavy": 0.25}, undertone=(-1.0, 0.2),
        brow_density=(0.35, 0.85), brow_thickness=0.9, brow_arch=0.7, beard_probability=0.55,
        beard_density=(0.25, 0.65), freckles=0.3, no_crease=0.35,
    ),
    "south_asian": AncestryLooks(
        hair=_DARK_HAIR, iris={"dark_brown": 0.7, "brown": 0.24, "hazel": 0.05, "green": 0.01},
        texture={"straight": 0.5, "wavy": 0.45, "coiled": 0.05}, undertone=(-0.9, 0.4), brow_density=(0.6, 1.0),
        brow_thickness=1.2, brow_arch=1.0, beard_probability=1.2, beard_density=(0.6, 1.0), freckles=0.2,
    ),
    "middle_eastern": AncestryLooks(
        hair={"black": 0.45, "dark_brown": 0.38, "brown": 0.13, "light_brown": 0.04},
        iris={"dark_brown": 0.5, "brown": 0.28, "hazel": 0.12, "green": 0.06, "grey": 0.02, "blue": 0.02},
        texture={"straight": 0.35, "wavy": 0.55, "coiled": 0.1}, undertone=(-0.9, 0.5), brow_density=(0.6, 1.0),
        brow_thickness=1.25, brow_arch=1.0, beard_probability=1.3, beard_density=(0.65, 1.0), freckles=0.4,
    ),
    "latin_american": AncestryLooks(
        hair={"black": 0.4, "dark_brown": 0.35, "brown": 0.15, "light_brown": 0.05, "dark_blonde": 0.05},
        iris={"dark_brown": 0.55, "brown": 0.27, "hazel": 0.1, "green": 0.04, "blue": 0.04},
        texture={"straight": 0.45, "wavy": 0.45, "coiled": 0.1}, undertone=(-0.8, 0.7), brow_density=(0.45, 1.0),
        brow_thickness=1.05, brow_arch=1.0, beard_probability=1.0, beard_density=(0.45, 1.0), freckles=0.6,
    ),
}
# Facial hair styles for men who have any (women have none).
FACIAL_HAIR_STYLES = {"stubble": 0.35, "moustache": 0.1, "goatee": 0.15, "beard": 0.4}
# Make-up, as in the photos face recognizers learn from (celebrity and portrait photos): women only. sRGB colour,
# weight on light skin (Monk 0-3), weight on dark skin (Monk 6-9): deep shades are worn more on darker skin.
LIPSTICK_COLOURS = {
    "red": ("#9e1b24", 0.22, 0.15),
    "berry": ("#6e1f3a", 0.12, 0.25),
    "rose": ("#b04a5e", 0.22, 0.05),
    "nude": ("#a86a5c", 0.24, 0.0),
    "brown_nude": ("#6a3a30", 0.02, 0.3),
    "coral": ("#c4503c", 0.12, 0.05),
    "plum": ("#5e2336", 0.06, 0.2),
}
EYE_SHADOW_COLOURS = {
    "taupe": ("#6f5a4e", 0.3, 0.15),
    "brown": ("#5a3f30", 0.25, 0.35),
    "plum": ("#5d3a4e", 0.15, 0.15),
    "grey": ("#4e4d52", 0.15, 0.1),
    "bronze": ("#8a6a3e", 0.15, 0.25),
}


class Demographics(Protocol):
    """Who the prior drew (``ffn_render.params.demographics.Demographics``; read by attribute, so no import)."""

    male: bool
    age: float
    ancestry: str
    tone: float
    hair_style: str


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
    hair_texture: str  # HAIR_TEXTURES
    ancestry: str | None  # a key of ANCESTRY_LOOKS when the demographics named one
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
    brow_tilt: float  # rise of the tail end over the head of the brow (m; negative: a drooping brow)
    brow_gap: float  # how much nearer the nose the brow starts than usual (m; negative: farther)
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
    age_spots: int  # flat light-brown spots (solar lentigines), from about 40, fewer on darker skin
    # The eye region, where a face recognizer looks first (docs/appearance-identity.md, "What moved the recognizer"):
    lid_crease: float  # darkness of the upper-lid fold's shadow line, 0 = no visible crease .. 1
    crease_height: float  # the fold above the upper lid margin at mid-eye (m)
    socket_shadow: float  # how deep-set the eyes look: shading between brow and upper lid, 0..1
    sclera_tint: float  # 0 clear white .. 1 yellowish and veined (rising with age)
    # Make-up (women, AppearanceConfig.makeup_probability, less often with age); every strength 0 = none:
    lipstick: str  # colour name (LIPSTICK_COLOURS)
    lipstick_strength: float  # 0..1, opacity over the lips' own colour
    eyeliner: float  # 0..1, darkness of a line along the upper lid margin
    eyeliner_width: float  # (m) above the margin
    eyeliner_wing: float  # (m) how far the line runs out and up past the outer corner
    eye_shadow: str  # colour name (EYE_SHADOW_COLOURS)
    eye_shadow_strength: float  # 0..1, over the upper lid up to the crease
    mascara: float  # 0..1, lashes darker and longer
    blush_makeup: float  # 0..1, rouge on the cheekbones

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


def _seed_looks(tone: float) -> AncestryLooks:
    """Looks without an ancestry: hair and eye colour from the skin tone, everything else as wide as people are."""
    return AncestryLooks(
        hair=_by_tone(HAIR_COLOURS, tone), iris=_by_tone(IRIS_COLOURS, tone),
        texture={"straight": 0.5, "wavy": 0.35, "coiled": 0.15 + 0.6 * float(np.clip((tone - 5.0) / 3.0, 0.0, 1.0))},
        undertone=(-1.0, 1.0), brow_density=(0.45, 1.0), brow_thickness=1.0, brow_arch=1.0, beard_probability=1.0,
        beard_density=(0.45, 1.0), freckles=1.2 - tone / 9, no_crease=0.15,
    )


def _tone_plausibility(table: dict[str, tuple[str, float, float]], tone: float) -> dict[str, float]:
    """Per colour, how much more (or less) often it goes with this skin tone than with light skin (1 up to Monk 3)."""
    by_tone = _by_tone(table, tone)
    return {name: by_tone[name] / light_w for name, (_, light_w, _) in table.items()}


def _ancestry_looks(ancestry: str, tone: float) -> AncestryLooks:
    """The ancestry's looks, hair and eye colours also kept plausible for the skin tone (a config may narrow it)."""
    looks = ANCESTRY_LOOKS[ancestry]
    hair, iris = _tone_plausibility(HAIR_COLOURS, tone), _tone_plausibility(IRIS_COLOURS, tone)
    return replace(
        looks,
        hair={name: w * hair[name] for name, w in looks.hair.items()},
        iris={name: w * iris[name] for name, w in looks.iris.items()},
    )


def sample_traits(seed: int, config: AppearanceConfig | None = None, demographics: Demographics | None = None) -> SkinTraits:
    """Draw one painted person for ``seed``; sex, age, tone, ancestry and hairstyle from ``demographics`` when given."""
    config = config or AppearanceConfig()
    rng = stream(seed, "albedo.traits")
    male = bool(rng.random() < config.male_probability)
    age = float(rng.uniform(*config.age_years))
    tone = float(rng.uniform(*config.skin_tone))
    if demographics is not None:  # the config's ranges still bound the person (e.g. a dataset of one skin tone)
        male = bool(demographics.male)
        age = float(np.clip(demographics.age, *config.age_years))
        tone = float(np.clip(demographics.tone, *config.skin_tone))
    ancestry = demographics.ancestry if demographics is not None and demographics.ancestry in ANCESTRY_LOOKS else None
    looks = _ancestry_looks(ancestry, tone) if ancestry else _seed_looks(tone)
    sex = int(male)
    styles = {name: p[sex] for name, p in HAIR_STYLE_WEIGHTS.items()}
    styles["bald"] *= config.bald_probability / 0.1 * min(1.0, 0.3 + age / 60.0)  # balding rises with age
    styles["receding"] *= min(1.0, 0.3 + age / 50.0)
    style = _choose(rng, styles)
    if demographics is not None and demographics.hair_style in HAIR_STYLES:
        style = demographics.hair_style
    facial = "none"
    if male and rng.random() < config.facial_hair_probability * looks.beard_probability:
        facial = _choose(rng, FACIAL_HAIR_STYLES)
    grey = float(np.clip((age - 38.0) / 40.0 + rng.normal(0.0, 0.08), 0.0, 1.0))
    iris = _choose(rng, looks.iris)
    arch = (0.0, 0.006) if male else (0.002, 0.010)
    thickness = (0.005, 0.013) if male else (0.003, 0.009)
    return SkinTraits(
        male=male,
        age=age,
        tone=tone,
        undertone=float(rng.uniform(*looks.undertone)),
        blush=float(rng.uniform(0.0, 1.0)),
        hair=_choose(rng, looks.hair),
        grey=grey,
        hair_style=style,
        hair_texture="coiled" if style == "afro" else _choose(rng, looks.texture),
        ancestry=ancestry,
        hairline=float(rng.uniform(0.5, 0.64)),
        recession=float(rng.uniform(0.0, 0.1) + (rng.uniform(0.08, 0.25) if style == "receding" else 0.0)),
        sideburn=float(rng.uniform(0.0, 0.03) if male else rng.uniform(-0.01, 0.01)),
        facial_hair=facial,
        beard_density=float(rng.uniform(*looks.beard_density)),
        brow_height=float(rng.uniform(0.008, 0.016)),
        brow_arch=float(rng.uniform(*arch) * looks.brow_arch),
        brow_peak=float(rng.uniform(0.45, 0.8)),
        brow_thickness=float(rng.uniform(*thickness) * looks.brow_thickness),
        brow_length=float(rng.uniform(0.038, 0.058)),
        brow_density=float(rng.uniform(*looks.brow_density)),
        brow_tilt=float(rng.normal(0.0, 0.002)),
        brow_gap=float(rng.uniform(-0.003, 0.004)),
        lash_strength=float(rng.uniform(0.5, 0.9) if male else rng.uniform(0.7, 1.0)),
        iris=iris,
        iris_inner=iris if rng.random() < 0.6 else _choose(rng, looks.iris),
        limbal_ring=float(rng.uniform(0.2, 0.9) * (1.2 - age / 100.0)),
        pupil_fraction=float(rng.uniform(0.28, 0.42)),
        lip_darkness=float(rng.uniform(0.0, 1.0)),
        lip_redness=float(rng.uniform(0.0, 1.0)),
        freckles=float(rng.uniform(0.3, 1.0)) if rng.random() < config.freckles_probability * looks.freckles else 0.0,
        moles=int(rng.poisson(2.0 + age / 25.0)),
        age_spots=int(rng.poisson(10.0 * np.clip((age - 40.0) / 35.0, 0.0, 1.0) * (1.0 - tone / 12.0))),
        lid_crease=0.0 if rng.random() < looks.no_crease else float(rng.uniform(0.3, 1.0)),
        crease_height=float(rng.uniform(0.0035, 0.006)),
        socket_shadow=float(np.clip(rng.uniform(0.0, 0.8) + 0.2 * (age - 40.0) / 40.0, 0.0, 1.0)),
        sclera_tint=float(np.clip(rng.uniform(0.0, 0.5) + 0.5 * (age - 20.0) / 60.0, 0.0, 1.0)),
        **_makeup(stream(seed, "albedo.makeup"), male, age, tone, config.makeup_probability),
    )


def _makeup(rng: np.random.Generator, male: bool, age: float, tone: float, probability: float) -> dict:
    """The make-up fields of SkinTraits: none for men, drawn less often and lighter from about 45 (own stream)."""
    older = float(np.clip((age - 45.0) / 35.0, 0.0, 1.0))
    worn = not male and rng.random() < probability * (1.0 - 0.5 * older)
    amount = float(rng.uniform(0.5, 1.0)) * (1.0 - 0.4 * older) if worn else 0.0
    return {
        "lipstick": _choose(rng, _by_tone(LIPSTICK_COLOURS, tone)),
        "lipstick_strength": amount * float(rng.uniform(0.5, 1.0)) if rng.random() < 0.85 else 0.0,
        "eyeliner": amount * float(rng.uniform(0.4, 1.0)) if rng.random() < 0.7 else 0.0,
        "eyeliner_width": float(rng.uniform(0.001, 0.0025)),
        "eyeliner_wing": float(rng.uniform(0.003, 0.008)) if rng.random() < 0.5 else 0.0,
        "eye_shadow": _choose(rng, _by_tone(EYE_SHADOW_COLOURS, tone)),
        "eye_shadow_strength": amount * float(rng.uniform(0.3, 0.8)) if rng.random() < 0.6 else 0.0,
        "mascara": amount * float(rng.uniform(0.5, 1.0)),
        "blush_makeup": amount * float(rng.uniform(0.2, 0.8)) if rng.random() < 0.6 else 0.0,
    }


def hex_srgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) / 255.0 for i in (1, 3, 5)])
