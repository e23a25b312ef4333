"""The prior sampler: parameter records drawn from distributions, no images needed.

Each record is one person (β), one emotion (ψ and jaw) and one head pose
(θ). θ and ψ are the *end* of the sequence's motion (SPEC §1 interpolates
from the rest pose (0, 0) to them), so the pose ranges are ranges of head
turns within one clip.

Distributions (all truncated normals unless stated; angles in degrees):

- identity β: the first ``n_shape`` (50) components, σ_k = 1/√(1 + k/25)
  (1.0 tapering to ≈ 0.58; FLAME-layout shape coefficients are in units of
  the training population's standard deviation), truncated at 2.5 σ_k. A
  model's designed, named components (the built-in head's ``shape_names``:
  face proportions, nose, eyes, brows, lips, jaw, age, sex-typical shape,
  each sized as one population standard deviation of the one measure it
  changes) get σ = 1.5 (``designed_shape_sigma``; the ears at most 1,
  :data:`DESIGNED_SIGMA_CAPS`), bounded at ±3 (``designed_bound_sigmas``);
  the taper applies to the unnamed tail. They
  are drawn correlated (:data:`SHAPE_COVARIATION`: craniofacial breadths
  together, eye spacing and mouth and nose width more loosely with them,
  the face's vertical proportions with its length; ``shape_covariation``
  scales the loadings, 0 draws them independently), and a draw that leaves
  the bound on any component is redrawn whole, not clipped. A draw whose
  designed components' root mean square exceeds ``designed_joint_rms`` (off
  by default) is redrawn as well. The wider, correlated draws make the
  identities more distinct to a face recognizer with faces as plausible as
  the earlier independent σ = 1 (bound 2.5) gave (docs/identity.md,
  "Session 5").
- the person (:mod:`.demographics`): sex, age, ancestry, Monk tone and
  hairstyle, drawn from the record seed's own stream and recorded in the
  record. They shift the named components they concern (sex-typical shape,
  age sagging and folds, ancestry-typical nose, lips, midface, eyes, face
  proportions) to their group's mean, drawn around it at 0.8 of the designed
  σ and bounded at ``conditioned_bound_sigmas``; hair volume components (when the model
  has them) are set by the hairstyle, not drawn. ``demographics=False``
  draws every component independently, as before, with no hair volume.
- head pose (global rotation, intrinsic yaw-pitch-roll about the model's y,
  x, z axes): yaw σ 17 bounded ±35, pitch σ 9 bounded ±20, roll σ 6 bounded
  ±12. In-the-wild face collections are mostly near-frontal: AFLW2000-3D
  (Zhu et al., CVPR 2016) has about two thirds of its faces within ±30° yaw,
  and 300W-LP/AFLW pitch and roll spreads are a fraction of the yaw spread;
  AffectNet, the paper's source, is web-searched and similarly frontal. The
  bounds keep whole-clip head turns within what a 5–20 frame pair sequence
  can show without the face leaving the view.
- neck: σ 3 bounded ±6 per axis (EMOCA leaves it at zero; a little adds
  head-vs-neck variety).
- jaw opening about x (positive opens the mouth, as in FLAME): uniform in
  an emotion-dependent range within 0..0.35 rad (surprise and fear widest).
- eyes: one gaze for both eyes, yaw σ 6 bounded ±15, pitch σ 4 bounded ±10.
- expression ψ: the built-in head's named emotion preset times an intensity
  uniform in 0.6..1.2, plus noise of 10 % of the typical preset size;
  "none" is a random (Dirichlet) mix of the eight non-neutral presets. A
  face model without the built-in head's named expression components (a
  real FLAME file) has no presets: ψ is then drawn on its first 50 components, σ_k = s_e/√(1 + k/25),
  with s_e an emotion intensity (neutral 0.2 … 1.0), and a warning says so.

Categories are balanced: record i gets ``emotions[i % len(emotions)]``.
Every record's parameters are drawn from its own seed
(:func:`ffn_render.seeds.derive_seed` of the run seed and the record id), so a
record can be regenerated alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.spatial.transform import Rotation
from scipy.special import ndtr, ndtri
from tqdm import tqdm

from ..errors import ParamsError
from ..facemodel import POSE_SIZE, FaceModel
from ..seeds import derive_seed
from ..vocabulary import EMOTIONS
from .demographics import HAIR_COMPONENTS, Demographics, sample_demographics, shape_conditioning
from .records import ParamRecord

log = logging.getLogger(__name__)

# (low, high) of the jaw opening in radians, by emotion.
JAW_OPEN_RAD = {
    "neutral": (0.0, 0.04),
    "happy": (0.02, 0.18),
    "sad": (0.0, 0.06),
    "surprise": (0.15, 0.35),
    "fear": (0.08, 0.30),
    "disgust": (0.02, 0.12),
    "anger": (0.02, 0.15),
    "contempt": (0.0, 0.06),
    "none": (0.0, 0.25),
}
# Anthropometric co-variation of the built-in head's named shape components. Each group is one
# shared factor and a loading is a component's correlation with it, so two components of a group
# correlate at the product of their loadings. Craniofacial breadths go together (a broad skull has
# a broad face, temples and jaw), the features' spacing and width follow the face's breadth more
# loosely, and the face's vertical proportions and the nose's length follow its length. Drawn
# independently at the wider σ, narrow skulls came on wide faces and wide mouths on narrow faces,
# and dlib fitted their brows and jaw lines beside the head (docs/identity.md, "Session 5").
SHAPE_COVARIATION: dict[str, dict[str, float]] = {
    "breadth": {
        "head_width": 0.75, "temple_width": 0.75, "face_width": 0.8, "jaw_width": 0.7, "chin_width": 0.5,
        "cheekbones": 0.5, "eye_spacing": 0.45, "mouth_width": 0.45, "nose_width": 0.35,
    },
    "length": {"face_length": 0.7, "midface_length": 0.6, "nose_length": 0.5, "head_height": 0.4},
}
# Designed components drawn no wider than this σ: the recognizer hardly sees the ears (±2 σ moves dlib's
# descriptor 0.10 and 0.09, as much as an unnamed tail component: docs/identity.md), and at 1.5 σ they
# turn faces into caricatures.
DESIGNED_SIGMA_CAPS = {"ear_size": 1.0, "ear_protrusion": 1.0}
# Redraws of a rejected shape draw before the sampler gives up (a reachable bound needs few).
MAX_SHAPE_DRAWS = 1000
# Expression scale by emotion for models without presets.
RANDOM_EXPRESSION_SCALE = {
    "neutral": 0.2,
    "happy": 1.0,
    "sad": 0.7,
    "surprise": 1.0,
    "fear": 1.0,
    "disgust": 1.0,
    "anger": 1.0,
    "contempt": 0.6,
    "none": 0.8,
}


@dataclass(frozen=True)
class PriorConfig:
    """Distribution parameters of the prior sampler (see the module docstring)."""

    n_shape: int = 50
    shape_sigma: float = 1.0
    shape_taper: float = 25.0
    shape_bound_sigmas: float = 2.5
    designed_shape_sigma: float = 1.5
    designed_bound_sigmas: float = 3.0  # |coefficient| of a designed component at most
    shape_covariation: float = 1.0  # scale of SHAPE_COVARIATION's loadings (0: designed components independent)
    # a draw whose designed components' root mean square (in σ) exceeds this is redrawn (inf: none is)
    designed_joint_rms: float = float("inf")
    demographics: bool = True
    conditioned_bound_sigmas: float = 3.0
    yaw_deg: tuple[float, float] = (17.0, 35.0)  # (σ, bound)
    pitch_deg: tuple[float, float] = (9.0, 20.0)
    roll_deg: tuple[float, float] = (6.0, 12.0)
    neck_deg: tuple[float, float] = (3.0, 6.0)
    gaze_yaw_deg: tuple[float, float] = (6.0, 15.0)
    gaze_pitch_deg: tuple[float, float] = (4.0, 10.0)
    intensity: tuple[float, float] = (0.6, 1.2)  # uniform range of the preset scale
    expression_noise: float = 0.1  # σ relative to the typical preset size
    none_mix_alpha: float = 0.5  # Dirichlet concentration of the "none" mix
    n_expr_random: int = 50
    expr_sigma: float = 1.0


def truncated_normal(rng: np.random.Generator, sigma: float | np.ndarray, bound: float | np.ndarray, size=None) -> np.ndarray:
    """Samples of N(0, σ²) restricted to [−bound, bound] (inverse-CDF, no clipping)."""
    sigma = np.asarray(sigma, dtype=np.float64)
    edge = ndtr(np.asarray(bound, dtype=np.float64) / sigma)
    u = rng.uniform(1.0 - edge, edge, size=size)
    return sigma * ndtri(u)


def sample_prior(
    count: int,
    seed: int,
    model: FaceModel,
    emotions: Sequence[str] = EMOTIONS,
    config: PriorConfig | None = None,
    progress: bool = False,
) -> list[ParamRecord]:
    """``count`` records, emotions balanced over ``emotions``, deterministic by ``seed``."""
    config = config or PriorConfig()
    if count < 1:
        raise ParamsError(f"prior sampler: count must be at least 1, got {count}")
    unknown = [e for e in emotions if e not in EMOTIONS]
    if unknown or not emotions:
        raise ParamsError(f"prior sampler: unknown emotion(s) {unknown or emotions!r} (expected some of {' '.join(EMOTIONS)})")
    presets = emotion_presets(model)
    if presets is None:
        log.warning(
            "face model '%s' has no named expression components: expressions are random draws scaled by emotion, "
            "not emotion-specific presets",
            model.name,
        )
    records = []
    for index in tqdm(range(count), desc="prior", unit="record", disable=None if progress else True):
        record_id = f"prior-s{seed}-{index:06d}"
        emotion = emotions[index % len(emotions)]
        records.append(sample_prior_record(record_id, emotion, derive_seed(seed, record_id), model, presets, config))
    return records


def sample_prior_record(
    record_id: str,
    emotion: str,
    record_seed: int,
    model: FaceModel,
    presets: dict[str, np.ndarray] | None,
    config: PriorConfig,
) -> ParamRecord:
    """One record drawn from ``record_seed`` alone."""
    rng = np.random.default_rng(record_seed)
    beta = _sample_shape(rng, record_seed, model, config)
    person = sample_demographics(record_seed) if config.demographics else None
    if person is not None:
        beta = _condition_shape(beta, person, model, config)
    theta = _sample_pose(rng, emotion, config)
    psi = _sample_expression(rng, emotion, model, presets, config)
    return ParamRecord(
        id=record_id,
        source="prior",
        emotion=emotion,
        beta=tuple(beta.tolist()),
        psi=tuple(psi.tolist()),
        theta=tuple(theta.tolist()),
        seed=record_seed,
        demographics=person,
    )


def _tapered_sigmas(k: int, sigma: float, taper: float) -> np.ndarray:
    return sigma / np.sqrt(1.0 + np.arange(k) / taper)


def shape_sigmas(model: FaceModel, config: PriorConfig) -> np.ndarray:
    """σ of each sampled shape coefficient: the designed components' (at most their cap), then the tapered tail's."""
    sigmas = _tapered_sigmas(min(config.n_shape, model.n_shape), config.shape_sigma, config.shape_taper)
    names = model.shape_names[: len(sigmas)]
    sigmas[: len(names)] = [min(config.designed_shape_sigma, DESIGNED_SIGMA_CAPS.get(name, np.inf)) for name in names]
    return sigmas


def shape_correlation(names: Sequence[str], strength: float = 1.0) -> np.ndarray:
    """Correlation matrix of the designed components ``names``: SHAPE_COVARIATION's loadings × ``strength``."""
    loadings = np.zeros((len(names), len(SHAPE_COVARIATION)))
    for g, group in enumerate(SHAPE_COVARIATION.values()):
        loadings[:, g] = [strength * group.get(name, 0.0) for name in names]
    if np.any(np.sum(loadings**2, axis=1) >= 1.0):  # a component left no variance of its own: no correlation matrix
        largest = max(np.hypot.reduce([g.get(n, 0.0) for g in SHAPE_COVARIATION.values()])
                      for n in {n for g in SHAPE_COVARIATION.values() for n in g})
        raise ParamsError(f"prior sampler: shape_covariation={strength:g} scales a loading of SHAPE_COVARIATION to 1 "
                          f"or more (at most {1.0 / largest:.3g})")
    correlation = loadings @ loadings.T
    np.fill_diagonal(correlation, 1.0)
    return correlation


def _sample_shape(rng: np.random.Generator, record_seed: int, model: FaceModel, config: PriorConfig) -> np.ndarray:
    """β: the tail drawn independently; the designed components correlated, redrawn while jointly too extreme.

    The first draw reads ``rng`` exactly as independent draws did (pose and expression draws that follow are
    unchanged); a rejected draw is replaced from the record seed's own shape stream.
    """
    sigmas = shape_sigmas(model, config)
    bounds = config.shape_bound_sigmas * sigmas
    designed = min(len(model.shape_names), len(sigmas))
    bounds[:designed] = config.designed_bound_sigmas
    beta = truncated_normal(rng, sigmas, bounds)
    names = model.shape_names[:designed]
    drawn = np.array([name not in HAIR_COMPONENTS for name in names], dtype=bool)
    mixing = np.linalg.cholesky(shape_correlation(names, config.shape_covariation))
    redraws = np.random.default_rng([int(record_seed), 0x53484150])  # "SHAP"
    for _ in range(MAX_SHAPE_DRAWS):
        independent = beta[:designed] / sigmas[:designed]
        correlated = sigmas[:designed] * (mixing @ independent)
        rms = np.sqrt(np.mean(independent[drawn] ** 2)) if drawn.any() else 0.0
        if np.all(np.abs(correlated) <= bounds[:designed]) and rms <= config.designed_joint_rms:
            break
        beta[:designed] = truncated_normal(redraws, sigmas[:designed], bounds[:designed])
    else:
        raise ParamsError(f"prior sampler: no shape draw within designed_joint_rms={config.designed_joint_rms:g} "
                          f"in {MAX_SHAPE_DRAWS} tries (record seed {record_seed})")
    beta[:designed] = correlated
    beta[:designed][~drawn] = 0.0  # hair volume is not a trait of the skull: only a hairstyle sets it
    return beta


def _condition_shape(beta: np.ndarray, person: Demographics, model: FaceModel, config: PriorConfig) -> np.ndarray:
    """Shift the named components ``person`` concerns to their mean and narrow their spread around it.

    ``beta`` holds the unconditioned draws (``designed_shape_sigma`` on named components), so the draw itself
    is reused: a conditioned coefficient is mean + scale · draw.
    """
    names = model.shape_names[: len(beta)]
    mean, scale = shape_conditioning(person, names, config.designed_shape_sigma)
    named = slice(0, len(names))
    touched = (mean != 0.0) | (scale != 1.0)
    bound = config.conditioned_bound_sigmas
    beta = beta.copy()
    beta[named] = np.where(touched, np.clip(mean + scale * beta[named], -bound, bound), beta[named])
    return beta


def _sample_pose(rng: np.random.Generator, emotion: str, config: PriorConfig) -> np.ndarray:
    def angle(spec: tuple[float, float], size=None) -> np.ndarray:
        return np.deg2rad(truncated_normal(rng, spec[0], spec[1], size))

    theta = np.zeros(POSE_SIZE)
    yaw, pitch, roll = angle(config.yaw_deg), angle(config.pitch_deg), angle(config.roll_deg)
    theta[0:3] = Rotation.from_euler("YXZ", [yaw, pitch, roll]).as_rotvec()
    theta[3:6] = angle(config.neck_deg, 3)
    low, high = JAW_OPEN_RAD[emotion]
    theta[6] = rng.uniform(low, high)
    gaze = Rotation.from_euler("YX", [angle(config.gaze_yaw_deg), angle(config.gaze_pitch_deg)]).as_rotvec()
    theta[9:12] = gaze
    theta[12:15] = gaze
    return theta


def _sample_expression(
    rng: np.random.Generator, emotion: str, model: FaceModel, presets: dict[str, np.ndarray] | None, config: PriorConfig
) -> np.ndarray:
    if presets is None:
        sigmas = _tapered_sigmas(min(config.n_expr_random, model.n_expr), config.expr_sigma, config.shape_taper)
        sigmas = sigmas * RANDOM_EXPRESSION_SCALE[emotion]
        return truncated_normal(rng, sigmas, config.shape_bound_sigmas * sigmas)
    if emotion == "none":
        emotional = [e for e in EMOTIONS if e != "neutral"]
        weights = rng.dirichlet(np.full(len(emotional), config.none_mix_alpha))
        base = sum(w * presets[e] for w, e in zip(weights, emotional))
    else:
        base = presets[emotion]
    typical = np.mean([np.linalg.norm(v) for v in presets.values() if np.any(v)])
    noise_sigma = config.expression_noise * typical / np.sqrt(base.size)
    return rng.uniform(*config.intensity) * base + rng.normal(0.0, noise_sigma, base.size)


def emotion_presets(model: FaceModel) -> dict[str, np.ndarray] | None:
    """Expression vector per emotion for models with the built-in head's named components, else None."""
    from ..facemodel.builtin_head import EXPRESSION_NAMES, preset_expression

    if tuple(model.expression_names[: len(EXPRESSION_NAMES)]) != EXPRESSION_NAMES:
        return None
    return {emotion: preset_expression(emotion, model.n_expr) for emotion in EMOTIONS}
