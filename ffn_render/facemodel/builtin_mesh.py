"""Topology and neutral geometry of the built-in head.

The head surface is a stack of closed rings of vertices, from a pole on the
crown down to an open border at the neck base. Each vertex is the outermost
hit of one ray on the head's distance field (:mod:`.builtin_sdf`): a ray
leaves a point on the head's vertical axis at a ring's height, tilted by an
elevation, towards the vertex's azimuth φ (φ = 0 is the face's midline,
φ > 0 the subject's left). Each ring has three elevations — at the front, the
sides and the back — blended around the head, chosen so that the ring meets
the face's midline at its target height and the sides and back at evenly
spaced heights. Rings on the face share one dense column set; the crown,
back and neck rings are sparser and are joined to their neighbours by a
zipper triangulation.

Openings are slits along a ring: along the eye ring and the mouth ring the
vertices are duplicated (an upper and a lower copy), and neighbouring rings'
rays are shifted up above the slit and down below it, which opens the eyes'
almond-shaped fissures. Behind each opening a pocket closes the surface: a
short lid margin that dips into the eyeball, and a mouth cavity whose lower
half follows the jaw. The eyeballs are separate spheres whose front pole
looks along +z. Each ear is a fin raised out of the head's side.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .builtin_sdf import HeadShape, head_sdf, head_sdf_gradient

AXIS_Z = -0.015  # the rays' vertical axis lies at x = 0, z = AXIS_Z
CROWN_ORIGIN_Y = 0.030
NECK_TOP_Y = -0.112  # highest neck ring (horizontal rays), just below the throat
NECK_BOTTOM_Y = -0.160
NECK_COLUMNS = (40, 34, 30, 28, 28)  # per neck ring, half the number of columns: fewer towards the base
EYEBALL_RINGS = 12  # latitude rings between the eyeball's poles
EYEBALL_SEGMENTS = 18
MOUTH_POCKET_DEPTHS = (0.004, 0.012, 0.024, 0.034)  # how far behind the lips each cavity ring lies
MOUTH_POCKET_BULGE = (0.0010, 0.0050, 0.0090, 0.0060)  # how far each cavity ring opens up (palate) / down (floor)
LID_MARGIN_DEPTH = 0.0010  # the lid margin ends this far inside the eyeball
EAR_FRONT_COLUMNS = 11  # columns up the ear's front face, from its front attachment to the helix rim
EAR_BACK_COLUMNS = 6  # columns down its back face
EAR_SIDE_RADIUS = 0.075  # converts distances along the head's side into azimuth
EAR_FLAT_EXTENT = 0.25  # the back face's extent when the ear is flat, relative to the ear's width
EAR_OVERHANG = 0.006  # how far the back face's attachment lies in front of the rim
# Height of the ear's front face (relative to the rim) across it, from the front attachment to the rim.
EAR_RELIEF = np.array(
    [[0.0, 0.0], [0.07, 0.24], [0.15, 0.10], [0.30, 0.06], [0.45, 0.26]]
    + [[0.58, 0.56], [0.70, 0.48], [0.80, 0.52], [0.90, 0.86], [1.0, 1.0]]
)
# How each ring's ray origin is found: fixed at the crown; solved so the front ray hits a target
# height on the face; the chin's origin under the chin; descending to the neck base on the neck.
RING_CROWN, RING_FACE, RING_UNDER_CHIN, RING_NECK = range(4)


@dataclass(frozen=True)
class Openings:
    """How far the eye fissures and the mouth are opened at their centres (metres, ≥ 0 opens).

    ``*_upper`` moves the upper edge up, ``*_lower`` moves the lower edge down.
    """

    # Rest pose (v7): the upper lid's edge 4.3 mm above the eye centre (over the iris's top, 5.9 mm), the lower one
    # 5.3 mm below (near the limbus), a fissure 9.7 mm high at the iris (adults 8-11 mm, Farkas; v6: 7.4 mm).
    left_lid_upper: float = 0.0052
    left_lid_lower: float = 0.0058
    right_lid_upper: float = 0.0052
    right_lid_lower: float = 0.0058
    mouth_upper: float = 0.0
    mouth_lower: float = 0.0


@dataclass(frozen=True)
class Slit:
    """An opening along ring ``ring`` between the corner azimuths ``phi_a`` < ``phi_b``."""

    name: str  # "left_eye", "right_eye", "mouth"
    ring: int
    phi_a: float
    phi_b: float
    rings_above: int  # how many rings above the slit are shifted up with it
    rings_below: int


@dataclass(frozen=True)
class RingRays:
    """How the rays of each ring are cast: origin height and elevations at front, sides and back."""

    origin_y: np.ndarray  # (R,)
    front: np.ndarray  # (R,) elevation at φ = 0 (radians)
    side: np.ndarray  # (R,) at φ = ±π/2
    back: np.ndarray  # (R,) at φ = π
    side_y: np.ndarray  # (R,) where each ring meets the head's side (without ears)

    def elevation(self, ring: np.ndarray, phi: np.ndarray) -> np.ndarray:
        cos = np.cos(phi)
        return (
            self.front[ring] * np.clip(cos, 0, None) ** 2
            + self.side[ring] * np.sin(phi) ** 2
            + self.back[ring] * np.clip(-cos, 0, None) ** 2
        )


@dataclass
class HeadLayout:
    """Topology of the built-in head and what is needed to place its vertices."""

    rays: RingRays
    ring_kind: np.ndarray  # (R,) RING_CROWN, RING_FACE, RING_UNDER_CHIN or RING_NECK
    ring_phis: list[np.ndarray]  # per ring: azimuths, starting at −π
    ring_upper_ids: list[np.ndarray]  # per ring: vertex ids seen from the ring above
    ring_lower_ids: list[np.ndarray]  # per ring: vertex ids seen from the ring below (differs along slits)
    slits: list[Slit]
    ray_ring: np.ndarray  # (Nr,) ring of each ray vertex (ray vertices are ids 1..Nr; id 0 is the crown pole)
    ray_phi: np.ndarray  # (Nr,)
    ray_side: np.ndarray  # (Nr,) +1 upper copy along a slit, −1 lower copy, 0 elsewhere
    ray_ear_u: np.ndarray | None = None  # (Nr,) across the ear: 0 front attachment … 1 behind it; NaN off the ears
    ear_phi_range: tuple[float, float] = (0.0, 0.0)  # azimuths of the left ear's columns
    ear_rings: list[int] = field(default_factory=list)  # rings crossing the ears
    faces: list[np.ndarray] = field(default_factory=list)
    n_vertices: int = 0
    # Pockets: vertex ids of each inner ring and the loop vertex each of them is derived from.
    mouth_loop: np.ndarray | None = None
    mouth_loop_side: np.ndarray | None = None  # +1 upper lip, −1 lower lip, 0 corner
    mouth_rings: list[np.ndarray] = field(default_factory=list)
    mouth_center: int = -1
    lid_loops: dict[str, np.ndarray] = field(default_factory=dict)
    lid_rings: dict[str, np.ndarray] = field(default_factory=dict)
    eyeball_ids: dict[str, np.ndarray] = field(default_factory=dict)


def _columns(n_half: int, density) -> np.ndarray:
    """A symmetric ring of 2·n_half azimuths from −π, spaced inversely to ``density(|φ|)``."""
    grid = np.linspace(0.0, np.pi, 4001)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density(grid[1:]) + density(grid[:-1])) * np.diff(grid))])
    half = np.interp(np.linspace(0.0, cdf[-1], n_half + 1), cdf, grid)[1:-1]
    return np.concatenate([[-np.pi], -half[::-1], [0.0], half])


def _face_density(phi: np.ndarray) -> np.ndarray:
    face = np.exp(-((phi / 1.30) ** 6))
    eyes = np.exp(-(((phi - 0.36) / 0.17) ** 2))
    return 0.22 + 1.0 * face + 0.55 * eyes


def _snap(phis: np.ndarray, target: float) -> float:
    return float(phis[np.argmin(np.abs(phis - target))])


def _ring_stitch(upper: np.ndarray, lower: np.ndarray, phi_u: np.ndarray, phi_l: np.ndarray) -> np.ndarray:
    """Triangles joining two closed rings ordered by azimuth (counter-clockwise seen from outside).

    Ties (shared azimuths) split quads along mirrored diagonals on either side
    of the midline, so where rings share columns the triangles mirror too.
    """
    upper, lower = np.append(upper, upper[0]), np.append(lower, lower[0])
    phi_u, phi_l = np.append(phi_u, phi_u[0] + 2 * np.pi), np.append(phi_l, phi_l[0] + 2 * np.pi)
    i = j = 0
    tris = []
    while i < len(upper) - 1 or j < len(lower) - 1:
        advance_upper = j == len(lower) - 1 or (
            i < len(upper) - 1
            and (phi_u[i + 1] < phi_l[j + 1] - 1e-12 or (abs(phi_u[i + 1] - phi_l[j + 1]) <= 1e-12 and phi_u[i] < 0))
        )
        if advance_upper:
            tris.append((upper[i], lower[j], upper[i + 1]))
            i += 1
        else:
            tris.append((upper[i], lower[j], lower[j + 1]))
            j += 1
    return np.array(tris, dtype=np.int64)


def build_layout(shape: HeadShape) -> HeadLayout:
    """Rings, slits, faces and pockets of the built-in head (topology, and how to cast its rays)."""
    face_phis = _columns(44, _face_density)
    ex, ey, ez = shape.eye_center
    lid_x, _, lid_z = shape.lid_radii
    half_fissure = 0.0128

    def lid_azimuth(dx: float) -> float:
        return float(np.arctan2(ex + dx, ez + lid_z * np.sqrt(max(0.0, 1.0 - (dx / lid_x) ** 2)) - AXIS_Z))

    eye_a = _snap(face_phis, lid_azimuth(-half_fissure))
    eye_b = _snap(face_phis, lid_azimuth(half_fissure))
    mouth_b = _snap(face_phis, np.arctan2(0.0245, 0.074 - AXIS_Z))

    crown_elev = np.deg2rad(np.linspace(80.0, 36.0, 9))
    front_y, front_elev, eye_index, mouth_index = _face_rings(shape)
    chin_elev = np.deg2rad(np.linspace(-51.0, -66.0, 4))
    kind = np.concatenate(
        [
            np.full(len(crown_elev), RING_CROWN),
            np.full(len(front_y), RING_FACE),
            np.full(len(chin_elev), RING_UNDER_CHIN),
            np.full(len(NECK_COLUMNS), RING_NECK),
        ]
    )
    elevation = np.concatenate([crown_elev, front_elev, chin_elev, np.zeros(len(NECK_COLUMNS))])
    below = len(chin_elev) + len(NECK_COLUMNS)
    targets = np.concatenate([np.full(len(crown_elev), np.nan), front_y, np.full(below, np.nan)])
    ring_phis = [_columns(int(np.clip(round(44 * np.cos(e) ** 0.8), 8, 44)), _face_density) for e in crown_elev]
    ring_phis += [face_phis] * (len(front_y) + len(chin_elev))
    ring_phis += [_columns(n, _face_density) for n in NECK_COLUMNS]
    eye_ring, mouth_ring = len(crown_elev) + eye_index, len(crown_elev) + mouth_index

    layout = HeadLayout(
        rays=_solve_rays(kind, elevation, targets, shape),
        ring_kind=kind,
        ring_phis=ring_phis,
        ring_upper_ids=[],
        ring_lower_ids=[],
        slits=[
            Slit("left_eye", eye_ring, eye_a, eye_b, 6, 5),
            Slit("right_eye", eye_ring, -eye_b, -eye_a, 6, 5),
            Slit("mouth", mouth_ring, -mouth_b, mouth_b, 4, 4),
        ],
        ray_ring=np.zeros(0, dtype=np.int64),
        ray_phi=np.zeros(0),
        ray_side=np.zeros(0, dtype=np.int64),
    )
    _add_ear_columns(layout, shape)
    _assign_ray_vertices(layout)
    _stitch_rings(layout)
    _add_pockets(layout)
    _add_eyeballs(layout)
    return layout


def _ear_extent(shape: HeadShape) -> tuple[float, float]:
    """Smallest and largest distance along the head's side (from the front attachment) an ear column reaches."""
    lean = np.tan(shape.ear_tilt) * 0.5 * shape.ear_height
    return -lean - 0.002, shape.ear_width * (1.0 + EAR_FLAT_EXTENT) + lean + 0.004


def _add_ear_columns(layout: HeadLayout, shape: HeadShape) -> None:
    """Give the rings at ear height extra columns across each ear."""
    a_min, a_max = _ear_extent(shape)
    phi0 = shape.ear_front_phi + a_min / EAR_SIDE_RADIUS
    phi1 = shape.ear_front_phi + a_max / EAR_SIDE_RADIUS
    layout.ear_phi_range = (phi0, phi1)
    ear_phis = np.linspace(phi0, phi1, EAR_FRONT_COLUMNS + EAR_BACK_COLUMNS)
    for r, y in enumerate(layout.rays.side_y):
        if abs(y - shape.ear_center_y) >= 0.5 * shape.ear_height:
            continue
        phis = layout.ring_phis[r]
        keep = phis[(np.abs(phis) < phi0 - 1e-6) | (np.abs(phis) > phi1 + 1e-6)]
        layout.ring_phis[r] = np.sort(np.concatenate([keep, ear_phis, -ear_phis]))
        layout.ear_rings.append(r)


def _assign_ray_vertices(layout: HeadLayout) -> None:
    rings, phis, sides = [], [], []
    next_id = 1  # id 0 is the crown pole
    for r, ring_phi in enumerate(layout.ring_phis):
        ids = np.arange(next_id, next_id + len(ring_phi))
        next_id += len(ring_phi)
        inside = np.zeros(len(ring_phi), dtype=bool)
        for slit in layout.slits:
            if slit.ring == r:
                inside |= (ring_phi > slit.phi_a + 1e-9) & (ring_phi < slit.phi_b - 1e-9)
        lower = ids.copy()
        lower[inside] = np.arange(next_id, next_id + inside.sum())
        next_id += int(inside.sum())
        rings += [np.full(len(ring_phi), r), np.full(int(inside.sum()), r)]
        phis += [ring_phi, ring_phi[inside]]
        sides += [inside.astype(np.int64), -np.ones(int(inside.sum()), dtype=np.int64)]
        layout.ring_upper_ids.append(ids)
        layout.ring_lower_ids.append(lower)
    layout.ray_ring = np.concatenate(rings)
    layout.ray_phi = np.concatenate(phis)
    layout.ray_side = np.concatenate(sides)
    layout.n_vertices = next_id
    phi0, phi1 = layout.ear_phi_range
    on_ear = (np.abs(layout.ray_phi) >= phi0 - 1e-9) & (np.abs(layout.ray_phi) <= phi1 + 1e-9)
    on_ear &= np.isin(layout.ray_ring, layout.ear_rings)
    layout.ray_ear_u = np.where(on_ear, (np.abs(layout.ray_phi) - phi0) / (phi1 - phi0), np.nan)


def _stitch_rings(layout: HeadLayout) -> None:
    first = layout.ring_upper_ids[0]
    fan = np.stack([np.zeros(len(first), dtype=np.int64), first, np.roll(first, -1)], axis=1)
    layout.faces.append(fan)
    for r in range(len(layout.ring_phis) - 1):
        layout.faces.append(
            _ring_stitch(
                layout.ring_lower_ids[r],
                layout.ring_upper_ids[r + 1],
                layout.ring_phis[r],
                layout.ring_phis[r + 1],
            )
        )


def _slit_loop(layout: HeadLayout, slit: Slit) -> tuple[np.ndarray, np.ndarray]:
    """The opening's border: corner a, upper edge, corner b, lower edge back (ids and sides)."""
    phis = layout.ring_phis[slit.ring]
    upper, lower = layout.ring_upper_ids[slit.ring], layout.ring_lower_ids[slit.ring]
    ia = int(np.argmin(np.abs(phis - slit.phi_a)))
    ib = int(np.argmin(np.abs(phis - slit.phi_b)))
    inner = np.arange(ia + 1, ib)
    loop = np.concatenate([[upper[ia]], upper[inner], [upper[ib]], lower[inner][::-1]])
    side = np.concatenate([[0], np.ones(len(inner)), [0], -np.ones(len(inner))]).astype(np.int64)
    return loop, side


def _add_pockets(layout: HeadLayout) -> None:
    next_id = layout.n_vertices
    for slit in layout.slits:
        loop, side = _slit_loop(layout, slit)
        n_rings = len(MOUTH_POCKET_DEPTHS) if slit.name == "mouth" else 1
        previous = loop
        rings = []
        for _ in range(n_rings):
            ring = np.arange(next_id, next_id + len(loop))
            next_id += len(loop)
            # The loop runs clockwise seen from outside (upper edge towards +φ, lower edge back),
            # so the pocket walks each border edge against the direction of the skin's face.
            layout.faces.append(_loop_stitch(previous, ring))
            rings.append(ring)
            previous = ring
        if slit.name == "mouth":
            center = next_id
            next_id += 1
            layout.faces.append(np.stack([previous, np.full(len(previous), center), np.roll(previous, -1)], axis=1))
            layout.mouth_loop, layout.mouth_loop_side = loop, side
            layout.mouth_rings, layout.mouth_center = rings, center
        else:
            layout.lid_loops[slit.name], layout.lid_rings[slit.name] = loop, rings[0]
    layout.n_vertices = next_id


def _loop_stitch(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Triangles between an opening's loop and the next ring inwards, facing into the opening."""
    nxt_o, nxt_i = np.roll(outer, -1), np.roll(inner, -1)
    return np.concatenate([np.stack([outer, inner, nxt_o], 1), np.stack([nxt_o, inner, nxt_i], 1)])


def _add_eyeballs(layout: HeadLayout) -> None:
    n_per_eye = 2 + EYEBALL_RINGS * EYEBALL_SEGMENTS
    for eye in ("left_eyeball", "right_eyeball"):
        base = layout.n_vertices
        ids = np.arange(base, base + n_per_eye)
        layout.eyeball_ids[eye] = ids
        front, back = base, base + 1
        ring = lambda k: base + 2 + k * EYEBALL_SEGMENTS + np.arange(EYEBALL_SEGMENTS)  # noqa: E731
        tris = [np.stack([np.full(EYEBALL_SEGMENTS, front), ring(0), np.roll(ring(0), -1)], 1)]
        for k in range(EYEBALL_RINGS - 1):
            a, b = ring(k), ring(k + 1)
            tris.append(np.stack([a, b, np.roll(b, -1)], 1))
            tris.append(np.stack([a, np.roll(b, -1), np.roll(a, -1)], 1))
        last = ring(EYEBALL_RINGS - 1)
        tris.append(np.stack([last, np.full(EYEBALL_SEGMENTS, back), np.roll(last, -1)], 1))
        layout.faces.append(np.concatenate(tris))
        layout.n_vertices += n_per_eye


def eyeball_unit_points() -> np.ndarray:
    """Eyeball vertices on the unit sphere: front pole (+z), back pole, then rings from front to back."""
    polar = np.pi * np.arange(1, EYEBALL_RINGS + 1) / (EYEBALL_RINGS + 1)
    azim = 2 * np.pi * np.arange(EYEBALL_SEGMENTS) / EYEBALL_SEGMENTS
    # Counter-clockwise seen from the front: azimuth runs from +x towards +y.
    pts = [np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0])]
    for a in polar:
        pts.extend(np.stack([np.sin(a) * np.cos(azim), np.sin(a) * np.sin(azim), np.full_like(azim, np.cos(a))], 1))
    return np.vstack(pts)


def _opening_profile(s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """How far a ray is shifted to open a slit: ``s`` is the position along the slit (0, 1 at
    the corners), ``t`` ∈ [0, 1) the distance in rings from the slit relative to the reach.

    At the slit the profile is an almond (steep at the corners); further away it
    widens beyond the corners and flattens, so neighbouring rings bend smoothly.
    """
    widened = (s - 0.5) / (1.0 + 0.9 * t) + 0.5
    inside = (widened > 0.0) & (widened < 1.0)
    bump = np.sin(np.pi * np.clip(widened, 0.0, 1.0)) ** (0.75 + 1.5 * t)
    return np.where(inside, bump * np.cos(0.5 * np.pi * t), 0.0)


def _ray_shifts(layout: HeadLayout, openings: Openings) -> np.ndarray:
    """Vertical shift of each ray's origin that opens the slits (metres).

    The neutral openings (``Openings()``) bend the rings far above and below
    each slit; changes from them (eyes closing, lips parting) move only the
    rings close to the slit, so the lids and lips slide and the brow and
    chin stay.
    """
    neutral = Openings()
    return _slit_shifts(layout, neutral, 1.0) + _slit_shifts(
        layout, Openings(*(a - b for a, b in zip(dataclasses.astuple(openings), dataclasses.astuple(neutral)))), 0.5
    )


def _slit_shifts(layout: HeadLayout, openings: Openings, reach: float) -> np.ndarray:
    amounts = {
        "left_eye": (openings.left_lid_upper, openings.left_lid_lower),
        "right_eye": (openings.right_lid_upper, openings.right_lid_lower),
        "mouth": (openings.mouth_upper, openings.mouth_lower),
    }
    shift = np.zeros(len(layout.ray_ring))
    for slit in layout.slits:
        up, down = amounts[slit.name]
        if up == 0.0 and down == 0.0:
            continue
        s = (layout.ray_phi - slit.phi_a) / (slit.phi_b - slit.phi_a)
        clipped = np.clip(s, 0.0, 1.0)
        # The upper lid peaks medially, the lower one laterally (medial is towards φ = 0).
        if slit.name == "left_eye":
            s_up, s_down = s + clipped**1.15 - clipped, s + clipped**0.85 - clipped
        elif slit.name == "right_eye":
            s_up, s_down = s + (1 - (1 - clipped) ** 1.15) - clipped, s + (1 - (1 - clipped) ** 0.85) - clipped
        else:
            s_up = s_down = s
        k = layout.ray_ring - slit.ring
        above = (k < 0) | ((k == 0) & (layout.ray_side >= 0))
        t_up = np.clip(-k / (reach * slit.rings_above + 1.0), 0.0, 1.0)
        t_down = np.clip(k / (reach * slit.rings_below + 1.0), 0.0, 1.0)
        shift += np.where(above, up * _opening_profile(s_up, t_up), -down * _opening_profile(s_down, t_down))
    return shift


def cast_rays(origins: np.ndarray, directions: np.ndarray, shape: HeadShape, strict: bool = True) -> np.ndarray:
    """Outermost crossing of each ray with the head surface (coarse march outward, then bisection).

    A ray that finds no surface is an error, or gives NaN when ``strict`` is false.
    """
    n_steps = 52
    s = np.linspace(0.020, 0.190, n_steps)  # every ray origin lies 2-19 cm inside the surface
    pts = origins[:, None, :] + s[None, :, None] * directions[:, None, :]
    f = head_sdf(pts.reshape(-1, 3), shape).reshape(len(origins), n_steps)
    crossing = (f[:, :-1] < 0) & (f[:, 1:] >= 0)
    # Index of the last inside→outside crossing along each ray.
    last = n_steps - 2 - np.argmax(crossing[:, ::-1], axis=1)
    missed = ~crossing.any(axis=1)
    if strict and missed.any():
        raise RuntimeError("built-in head: a ray found no surface; the layout and the shape disagree")
    lo, hi = s[last], s[last + 1]
    for _ in range(12):
        mid = 0.5 * (lo + hi)
        inside = head_sdf(origins + mid[:, None] * directions, shape) < 0
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    hits = origins + (0.5 * (lo + hi))[:, None] * directions
    hits[missed] = np.nan
    return hits


def _directions(phi: np.ndarray, elevation: np.ndarray) -> np.ndarray:
    return np.stack([np.sin(phi) * np.cos(elevation), np.sin(elevation), np.cos(phi) * np.cos(elevation)], axis=1)


def _midline_origins(front_y: np.ndarray, elevation: np.ndarray, shape: HeadShape) -> tuple[np.ndarray, np.ndarray]:
    """Origin heights whose rays at φ = 0 hit the face at ``front_y``, and those hit points."""
    y = front_y - np.tan(elevation) * 0.10
    directions = _directions(np.zeros(len(front_y)), elevation)
    for _ in range(5):  # the hit height moves about one-to-one with the origin height
        origins = np.stack([np.zeros(len(y)), y, np.full(len(y), AXIS_Z)], 1)
        hit = cast_rays(origins, directions, shape)
        y = y + (front_y - hit[:, 1])
    return y, hit


def _face_rings(shape: HeadShape) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Front target heights and elevations of the face rings, and the eye and mouth ring indices.

    Rings are spread evenly along the midline profile's arc length (weighted
    towards the eyes, nose tip and lips), so the nose's underside and the lips
    get rings although they span little height.
    """
    ey, my = shape.eye_center[1], shape.mouth_y
    knots_y = np.array([0.088, 0.050, 0.036, 0.026, 0.020, -0.004, -0.016, -0.028, my, -0.066, -0.090])
    knots_elev = np.deg2rad([30.0, 6.0, -8.0, -6.0, -2.0, -14.0, -22.0, -12.0, -4.0, -22.0, -47.0])

    def importance(y: np.ndarray) -> np.ndarray:
        return 1.0 + 1.0 * np.exp(-(((y - ey - 0.004) / 0.014) ** 2)) + 0.6 * np.exp(-(((y - my) / 0.010) ** 2))

    targets = [np.array([knots_y[0]])]
    indices = []
    for start, stop, count in ((knots_y[0], ey, 13), (ey, my, 16), (my, knots_y[-1], 9)):
        ys = np.linspace(start, stop, 101)
        _, hit = _midline_origins(ys, np.interp(-ys, -knots_y, knots_elev), shape)
        step = np.linalg.norm(np.diff(hit, axis=0), axis=1) * importance(0.5 * (ys[1:] + ys[:-1]))
        arc = np.concatenate([[0.0], np.cumsum(step)])
        targets.append(np.interp(np.linspace(0.0, arc[-1], count + 1)[1:], arc, ys))
        indices.append(sum(len(t) for t in targets) - 1)
    front_y = np.concatenate(targets)
    return front_y, np.interp(-front_y, -knots_y, knots_elev), indices[0], indices[1]


def _solve_rays(kind: np.ndarray, front_elev: np.ndarray, front_y: np.ndarray, shape: HeadShape) -> RingRays:
    """Origins and elevations of every ring (see ``RING_*``): face rings meet the midline at their
    targets; face and chin rings meet the sides and the back at evenly spaced heights."""
    origin_y = np.full(len(kind), CROWN_ORIGIN_Y)
    face = np.flatnonzero(kind == RING_FACE)
    origin_y[face], _ = _midline_origins(front_y[face], front_elev[face], shape)
    origin_y[kind == RING_UNDER_CHIN] = origin_y[face[-1]]
    neck = np.flatnonzero(kind == RING_NECK)
    origin_y[neck] = np.linspace(NECK_TOP_Y, NECK_BOTTOM_Y, len(neck))
    elevations = {}
    last_crown = np.flatnonzero(kind == RING_CROWN)[-1]
    free = np.flatnonzero((kind == RING_FACE) | (kind == RING_UNDER_CHIN))
    for name, phi in (("side", 0.5 * np.pi), ("back", np.pi)):
        top = _cast_ring(origin_y[last_crown : last_crown + 1], front_elev[last_crown : last_crown + 1], phi, shape)[0, 1]
        target = np.linspace(top, NECK_TOP_Y, len(free) + 2)[1:-1]
        elev = front_elev.copy()
        elev[free] = _elevation_for_height(origin_y[free], target, phi, shape)
        elevations[name] = elev
    side_y = _cast_ring(origin_y, elevations["side"], 0.5 * np.pi, shape)[:, 1]
    return RingRays(origin_y, front_elev, elevations["side"], elevations["back"], side_y)


def _cast_ring(origin_y: np.ndarray, elevation: np.ndarray, phi: float, shape: HeadShape, strict: bool = True) -> np.ndarray:
    origins = np.stack([np.zeros(len(origin_y)), origin_y, np.full(len(origin_y), AXIS_Z)], 1)
    return cast_rays(origins, _directions(np.full(len(origin_y), phi), elevation), shape, strict)


def _elevation_for_height(origin_y: np.ndarray, target: np.ndarray, phi: float, shape: HeadShape) -> np.ndarray:
    """Elevations at which rays from ``origin_y`` towards ``phi`` hit the head at height ``target``."""
    grid = np.deg2rad(np.linspace(-80.0, 80.0, 49))
    n = len(origin_y)
    hits = _cast_ring(np.repeat(origin_y, len(grid)), np.tile(grid, n), phi, shape, strict=False)[:, 1]
    hits = hits.reshape(n, len(grid))
    hits = np.where(np.isnan(hits), np.sign(grid) * 1.0, hits)  # missed: steeply down the neck or up
    hits = np.maximum.accumulate(hits, axis=1)  # the hit height rises with the elevation
    elev = np.array([np.interp(t, h, grid) for t, h in zip(target, hits)])
    # One secant refinement with the grid's local slope.
    for _ in range(2):
        y = _cast_ring(origin_y, elev, phi, shape)[:, 1]
        slope = np.array([np.interp(e, grid[1:], np.diff(h) / np.diff(grid)) for e, h in zip(elev, hits)])
        elev = elev + (target - y) / np.maximum(slope, 1e-3)
    return elev


def _ear_profile(u: np.ndarray, y: np.ndarray, shape: HeadShape) -> tuple[np.ndarray, np.ndarray]:
    """Where an ear column lies: distance along the head's side from the front attachment, and height.

    Across the ear (``u`` from 0 to 1) the columns climb the front face —
    tragus, concha, antihelix — to the helix rim, then fall down the back
    face to an attachment in front of the rim. Towards the ear's top and
    bottom the fin flattens and its columns spread evenly.
    """
    a_min, a_max = _ear_extent(shape)
    rel = np.clip((y - shape.ear_center_y) / (0.5 * shape.ear_height), -1.0, 1.0)
    chord = np.sqrt(1.0 - rel**2)
    w = chord**0.8  # how developed the fin is at this height
    height = shape.ear_protrusion * w
    lean = np.tan(shape.ear_tilt) * 0.5 * shape.ear_height * rel
    front = lean + 0.15 * shape.ear_width * (1.0 - chord)
    rim = front + shape.ear_width * chord**0.6
    n_front = EAR_FRONT_COLUMNS - 1
    i = u * (EAR_FRONT_COLUMNS + EAR_BACK_COLUMNS - 1)
    xi = np.clip(i / n_front, 0.0, 1.0)  # across the front face
    zeta = np.clip((i - n_front) / EAR_BACK_COLUMNS, 0.0, 1.0)  # down the back face
    a_front = front + xi * (rim - front)
    # The front face leans out ~30° from the head: tragus, concha bowl, antihelix ridge, scapha, helix rim.
    n_front_face = np.interp(xi, EAR_RELIEF[:, 0], EAR_RELIEF[:, 1])
    flat_step = EAR_FLAT_EXTENT * shape.ear_width
    a_back = rim + zeta * (flat_step * (1.0 - w) - EAR_OVERHANG * w) + 0.003 * w * np.sin(np.pi * zeta)
    n_back = np.cos(0.5 * np.pi * zeta)
    on_back = i > n_front
    a = np.where(on_back, a_back, a_front)
    n = height * np.where(on_back, n_back, n_front_face)
    uniform = a_min + u * (a_max - a_min)
    return w * a + (1.0 - w) * uniform, n


def ray_vertex_positions(layout: HeadLayout, shape: HeadShape, shifts: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Positions of the ray vertices ``which`` (indices into the ray list) with origin ``shifts``."""
    ring = layout.ray_ring[which]
    origins = np.stack([np.zeros(len(ring)), layout.rays.origin_y[ring] + shifts[which], np.full(len(ring), AXIS_Z)], axis=1)
    phi = layout.ray_phi[which]
    cast_phi = phi.copy()
    ear_u = layout.ray_ear_u[which]
    ear = np.flatnonzero(np.isfinite(ear_u))
    along, height = _ear_profile(ear_u[ear], layout.rays.side_y[ring[ear]], shape)
    cast_phi[ear] = np.sign(phi[ear]) * (shape.ear_front_phi + along / EAR_SIDE_RADIUS)
    hits = cast_rays(origins, _directions(cast_phi, layout.rays.elevation(ring, phi)), shape)
    hits[ear] += height[:, None] * head_sdf_gradient(hits[ear], shape)
    return hits


def head_positions(
    layout: HeadLayout, shape: HeadShape, openings: Openings, base: tuple[Openings, np.ndarray] | None = None
) -> np.ndarray:
    """All vertex positions (V, 3) of the built-in head.

    With ``base`` = (openings, positions) of an earlier call with the same
    shape, only the rays whose opening shift differs are cast again.
    """
    shifts = _ray_shifts(layout, openings)
    n_rays = len(layout.ray_ring)
    if base is None:
        verts = np.zeros((layout.n_vertices, 3))
        which = np.arange(n_rays)
        verts[0] = cast_rays(np.array([[0.0, CROWN_ORIGIN_Y, AXIS_Z]]), np.array([[0.0, 1.0, 0.0]]), shape)[0]
    else:
        verts = base[1].copy()
        which = np.flatnonzero(shifts != _ray_shifts(layout, base[0]))
    verts[1 + which] = ray_vertex_positions(layout, shape, shifts, which)
    _place_pockets(layout, shape, verts)
    _place_eyeballs(layout, shape, verts)
    return verts


def _place_pockets(layout: HeadLayout, shape: HeadShape, verts: np.ndarray) -> None:
    ex, ey, ez = shape.eye_center
    for name, sign in (("left_eye", 1.0), ("right_eye", -1.0)):
        center = np.array([sign * ex, ey, ez])
        loop = verts[layout.lid_loops[name]]
        offset = loop - center
        dist = np.linalg.norm(offset, axis=1, keepdims=True)
        verts[layout.lid_rings[name]] = center + offset * (shape.eye_radius - LID_MARGIN_DEPTH) / dist
    loop = verts[layout.mouth_loop]
    side = layout.mouth_loop_side.astype(np.float64)
    mid = loop.mean(axis=0)
    for ring, depth, bulge in zip(layout.mouth_rings, MOUTH_POCKET_DEPTHS, MOUTH_POCKET_BULGE):
        squeeze = 1.0 - 0.35 * depth / MOUTH_POCKET_DEPTHS[-1]
        pts = mid + (loop - mid) * np.array([squeeze, 1.0, 1.0])
        pts[:, 2] = loop[:, 2] - depth - 0.25 * depth * (1 - (loop[:, 0] / np.abs(loop[:, 0]).max()) ** 2)
        pts[:, 1] += side * bulge * np.sqrt(np.clip(1 - (loop[:, 0] / np.abs(loop[:, 0]).max()) ** 2, 0, 1))
        verts[ring] = pts
    verts[layout.mouth_center] = np.array([0.0, mid[1], loop[:, 2].max() - MOUTH_POCKET_DEPTHS[-1] - 0.012])


def _place_eyeballs(layout: HeadLayout, shape: HeadShape, verts: np.ndarray) -> None:
    unit = eyeball_unit_points()
    ex, ey, ez = shape.eye_center
    for eye, sign in (("left_eyeball", 1.0), ("right_eyeball", -1.0)):
        verts[layout.eyeball_ids[eye]] = np.array([sign * ex, ey, ez]) + shape.eye_radius * unit


PART_SKIN, PART_LID_MARGIN, PART_MOUTH, PART_LEFT_EYEBALL, PART_RIGHT_EYEBALL = range(5)


@dataclass(frozen=True)
class VertexLabels:
    """Per-vertex bookkeeping of the built-in head used by its rig, blendshapes and UVs."""

    part: np.ndarray  # (V,) PART_*
    ring: np.ndarray  # (V,) ring of skin vertices (−1 for the crown pole and non-skin vertices)
    phi: np.ndarray  # (V,) azimuth of skin vertices (NaN elsewhere)
    mouth_side: np.ndarray  # (V,) +1 above the mouth slit's line, −1 below, 0 at its corners (skin and cavity)
    eye_side: np.ndarray  # (V,) the same for the eye slits' line
    parent: np.ndarray  # (V,) for pocket vertices the opening's border vertex they hang from, else −1
    depth: np.ndarray  # (V,) how many rings a pocket vertex lies inside its opening (0 elsewhere)
    ear_u: np.ndarray  # (V,) position across an ear (NaN off the ears)


def vertex_labels(layout: HeadLayout) -> VertexLabels:
    n = layout.n_vertices
    ray_ids = np.arange(1, 1 + len(layout.ray_ring))
    part = np.full(n, PART_SKIN)
    ring = np.full(n, -1)
    phi = np.full(n, np.nan)
    ear_u = np.full(n, np.nan)
    ring[ray_ids], phi[ray_ids], ear_u[ray_ids] = layout.ray_ring, layout.ray_phi, layout.ray_ear_u
    parent = np.full(n, -1)
    depth = np.zeros(n, dtype=np.int64)
    side = {}
    for slit_name in ("mouth", "left_eye"):
        slit_ring = next(s.ring for s in layout.slits if s.name == slit_name)
        sides = np.zeros(n, dtype=np.int64)
        rel = layout.ray_ring - slit_ring
        sides[ray_ids] = np.where(rel < 0, 1, np.where(rel > 0, -1, layout.ray_side))
        side[slit_name] = sides
    for k, inner in enumerate(layout.mouth_rings, start=1):
        part[inner], parent[inner], depth[inner] = PART_MOUTH, layout.mouth_loop, k
        side["mouth"][inner] = layout.mouth_loop_side
    part[layout.mouth_center] = PART_MOUTH
    depth[layout.mouth_center] = len(layout.mouth_rings) + 1
    for name in ("left_eye", "right_eye"):
        inner = layout.lid_rings[name]
        part[inner], parent[inner], depth[inner] = PART_LID_MARGIN, layout.lid_loops[name], 1
        side["left_eye"][inner] = side["left_eye"][layout.lid_loops[name]]
    part[layout.eyeball_ids["left_eyeball"]] = PART_LEFT_EYEBALL
    part[layout.eyeball_ids["right_eyeball"]] = PART_RIGHT_EYEBALL
    # The eye rings' upper/lower copies are found from the ray sides; away from the slits both
    # eyes share the ring, so "above/below the eye line" holds for both.
    return VertexLabels(part, ring, phi, side["mouth"], side["left_eye"], parent, depth, ear_u)
