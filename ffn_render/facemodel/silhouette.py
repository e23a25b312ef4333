"""The head's outline in a photo: where a fitted mesh's silhouette should move to match the image's edges.

dlib's inner points carry a per-face bias (on renders of the built-in head its
nose and lips sit up to 8 px off the calibrated points at the true pose, the
same way in every frame of one identity, towards a frontal face), and a fit on
landmarks alone turns that into degrees of yaw. The outline of the head
against the background is geometry, not painted appearance: so after the
landmark fit the mesh's silhouette (skin regions that show in a photo: face,
forehead, ears, neck; not the scalp, which hair covers) is projected, and
along each silhouette point's outward normal the strongest step edge of the
image within a search distance is taken as where that point belongs. The fit
then moves the silhouette towards those edges (point-to-line distances),
the search shrinking round by round.

A step edge, not the image gradient: the contrast between the mean colours
of two windows on either side of a candidate position, so skin pores,
freckles and background texture (a few pixels) do not win over the head's
outline (a change of the whole region's colour).
"""

from __future__ import annotations

import cv2
import numpy as np

from .model import FaceModel

SILHOUETTE_REGIONS = ("face", "forehead", "left_ear", "right_ear", "neck")
STEP_PX = 0.5  # sampling step along a normal
WEAKEST_DROPPED = 30.0  # percent of silhouette points with the weakest edge left out (no clear edge nearby)


def outline_vertices(model: FaceModel) -> np.ndarray:
    """Vertex mask of the regions whose silhouette is matched (empty when the model has none of them)."""
    allowed = np.zeros(model.n_vertices, dtype=bool)
    for name in SILHOUETTE_REGIONS:
        allowed[np.asarray(model.regions.get(name, ()), dtype=np.int64)] = True
    return allowed


def silhouette(model: FaceModel, pixels: np.ndarray, allowed: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (among ``allowed``) on the outer outline of the mesh projected to ``pixels`` (V, 2) in an image of
    ``size`` (width, height), and their outward unit normals in the image (N, 2)."""
    width, height = size
    cover = np.zeros((height, width), np.uint8)
    for triangle in np.round(pixels[model.faces] - 0.5).astype(np.int32):
        cv2.fillConvexPoly(cover, triangle, 1)  # one by one: fillPoly of many polygons fills by parity
    signed = cv2.distanceTransform(1 - cover, cv2.DIST_L2, 3) - cv2.distanceTransform(cover, cv2.DIST_L2, 3)
    col, row = np.clip(np.round(pixels - 0.5).astype(np.int64), 0, [width - 1, height - 1]).T
    ids = np.flatnonzero((np.abs(signed[row, col]) <= 1.0) & allowed)
    grad_y, grad_x = np.gradient(cv2.GaussianBlur(signed, (0, 0), 2.0))
    normals = np.stack([grad_x[row[ids], col[ids]], grad_y[row[ids], col[ids]]], axis=1)
    length = np.linalg.norm(normals, axis=1)
    keep = length > 1e-6
    return ids[keep], normals[keep] / length[keep, None]


def step_edges(image: np.ndarray, points: np.ndarray, normals: np.ndarray, search_px: float,
               window_px: float, prior_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Along each normal through ``points`` (N, 2), within ±``search_px``: the offset (px, outward positive) of the
    strongest step edge of ``image`` (H×W×C float) and its contrast, the distance between the mean colours of
    the ``window_px`` before and after it, times a Gaussian of width ``prior_px`` in the offset (of two edges
    equally clear, the nearer)."""
    steps = np.arange(-search_px, search_px + 1e-9, STEP_PX)
    samples = (points[:, None] + steps[None, :, None] * normals[:, None] - 0.5).astype(np.float32)
    values = cv2.remap(image, samples[..., 0], samples[..., 1], cv2.INTER_LINEAR).reshape(len(points), len(steps), -1)
    window = max(int(round(window_px / STEP_PX)), 1)
    sums = np.concatenate([np.zeros_like(values[:, :1]), np.cumsum(values, axis=1)], axis=1)
    index = np.arange(len(steps))
    before, after = np.clip(index - window, 0, None), np.clip(index + window, None, len(steps))
    inner = (sums[:, index] - sums[:, before]) / np.maximum(index - before, 1)[None, :, None]
    outer = (sums[:, after] - sums[:, index]) / np.maximum(after - index, 1)[None, :, None]
    full = (index - before >= window // 2) & (after - index >= window // 2)  # half a window at least on each side
    contrast = np.linalg.norm(inner - outer, axis=-1) * (full * np.exp(-0.5 * (steps / prior_px) ** 2))[None]
    best = np.argmax(contrast, axis=1)
    return steps[best], contrast[np.arange(len(points)), best]


def silhouette_targets(model: FaceModel, pixels: np.ndarray, allowed: np.ndarray, image: np.ndarray,
                       search_px: float, window_px: float, prior_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Silhouette vertices, their outward normals and the image edge points they should move to: (N,), (N, 2), (N, 2).
    ``image`` is the photo as floats (H×W×3); points without a clear edge nearby are left out."""
    ids, normals = silhouette(model, pixels, allowed, (image.shape[1], image.shape[0]))
    if len(ids) == 0:
        return ids, normals, np.zeros((0, 2))
    offsets, contrast = step_edges(image, pixels[ids], normals, search_px, window_px, prior_px)
    clear = contrast > np.percentile(contrast, WEAKEST_DROPPED)
    return ids[clear], normals[clear], (pixels[ids] + offsets[:, None] * normals)[clear]


def photo_floats(image: np.ndarray) -> np.ndarray:
    """An 8-bit RGB photo as floats in [0, 1], lightly blurred (the renderer's and a camera's pixel noise)."""
    return cv2.GaussianBlur(np.ascontiguousarray(image, dtype=np.float32) / 255.0, (0, 0), 1.0)


# --- the mouth opening --------------------------------------------------------------------------------------------
#
# dlib's lip points carry the per-face bias too, so a jaw fitted to them opens too far on one identity and too
# little on another. What the photo shows directly is the dark band between the inner lips: the mouth's inside when
# it is open (deep: the inside is near black), a seam when it is closed (a shallow valley of shading, 5-9 px high on
# renders of the head, not a step). Its height, measured across the lips' middle, is the opening the jaw must give.

MOUTH_MIDDLE = 0.55  # inner-lip vertex pairs within this share of the mouth's half-width from its middle are measured
CLOSED_DEPTH = 0.5  # a band darker than the lips by less than this share of their brightness is a closed seam
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
NEARER_PER_PX = 2e-3  # luma a darkest place may lose per px nearer the lips' middle (ties go to the nearer)


def mouth_border_pairs(model: FaceModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inner-lip vertices facing each other across the mouth's middle, upper (P,) and lower (P,) (lip vertices on
    the mouth interior's border, told apart by the joint that moves them most: the jaw for the lower lip), and the
    two mouth corners (2,); all empty when the model lacks the lip, mouth-interior regions or a jaw joint."""
    from .model import JOINT_NAMES

    empty = np.zeros(0, np.int64)
    if not {"lips", "mouth_interior"} <= set(model.regions) or "jaw" not in JOINT_NAMES[: model.weights.shape[1]]:
        return empty, empty, empty
    lips, interior = (np.isin(np.arange(model.n_vertices), model.regions[name]) for name in ("lips", "mouth_interior"))
    touching = model.faces[interior[model.faces].any(axis=1)]
    border = np.unique(touching[lips[touching]])
    if len(border) < 4:
        return empty, empty, empty
    x = model.v_template[border, 0]
    lower = model.weights[border].argmax(axis=1) == JOINT_NAMES.index("jaw")
    middle = np.abs(x - x.mean()) < MOUTH_MIDDLE * 0.5 * np.ptp(x)
    upper_ids, lower_ids = border[~lower & middle], border[lower & middle]
    if len(upper_ids) == 0 or len(lower_ids) == 0:
        return empty, empty, empty
    # Each upper vertex with the lower one nearest it across the mouth (they coincide on the closed template).
    facing = lower_ids[np.argmin(np.abs(model.v_template[upper_ids, None, 0] - model.v_template[None, lower_ids, 0]), axis=1)]
    return upper_ids, facing, border[np.argsort(x)[[0, -1]]]


def mouth_opening(image: np.ndarray, upper: np.ndarray, lower: np.ndarray, down: np.ndarray, margin_px: float,
                  reach_px: float) -> float:
    """Height (px) of the dark band between the lips of ``image`` (H×W×3 floats): along ``down`` (unit, the face's
    down) through each upper-lip point (P, 2), from ``margin_px`` above it to ``margin_px`` + ``reach_px`` below its
    lower point (P, 2), the darkest place (of two equally dark, the nearer the points' middle) and the band around it
    down to half its depth below the brightness on either side; the median over the points. 0 for a closed mouth:
    a band shallower than ``CLOSED_DEPTH`` of the lips' brightness is the seam, whatever its height."""
    luma = np.ascontiguousarray(image @ LUMA)
    gaps_model = (lower - upper) @ down
    steps = np.arange(-margin_px, max(gaps_model.max(), 0.0) + margin_px + reach_px + 1e-9, STEP_PX)
    samples = (upper[:, None] + steps[None, :, None] * down[None, None] - 0.5).astype(np.float32)
    profiles = cv2.remap(luma, samples[..., 0], samples[..., 1], cv2.INTER_LINEAR).reshape(len(upper), len(steps))
    heights, depths = np.zeros(len(upper)), np.zeros(len(upper))
    for k, (profile, middle) in enumerate(zip(profiles, gaps_model / 2)):
        centre = int(np.argmin(profile + NEARER_PER_PX * np.abs(steps - middle)))
        darkest, above, below = profile[centre], profile[: centre + 1].max(), profile[centre:].max()
        top = centre - np.argmax(profile[centre::-1] >= (darkest + above) / 2)  # first place back up to half depth
        bottom = centre + np.argmax(profile[centre:] >= (darkest + below) / 2)
        heights[k] = steps[bottom] - steps[top]
        depths[k] = (min(above, below) - darkest) / max(min(above, below), 1e-3)
    return 0.0 if np.median(depths) < CLOSED_DEPTH else float(np.median(heights))
