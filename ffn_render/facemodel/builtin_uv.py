"""UV layout of the built-in head: islands flattened by least-squares conformal maps, then packed.

Islands: the face (forehead to chin, ear to ear, with the eye openings and
lid margins), the scalp (crown), the left and right sides of the head, the
left and right halves of the neck (from under the chin down), each ear, the
mouth cavity and each eyeball. Skin islands are flattened with LSCM (Lévy et al. 2002),
upright (the head's up is +v); eyeballs use an azimuthal map of the sphere
around the pupil, so the iris is a disc in the middle of each eyeball's
island. Islands keep their 3D proportions; the face gets a larger share of
the texture. No island overlaps another.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
import scipy.sparse.linalg

from .builtin_mesh import (
    EYEBALL_RINGS,
    EYEBALL_SEGMENTS,
    PART_LEFT_EYEBALL,
    PART_MOUTH,
    PART_RIGHT_EYEBALL,
    RING_CROWN,
    RING_NECK,
    RING_UNDER_CHIN,
    HeadLayout,
    VertexLabels,
)

FACE_ISLAND_HALF_ANGLE = np.deg2rad(72.0)  # the face island reaches this azimuth (in front of the ears)
FACE_TEXEL_SHARE = 1.8  # texture area per surface area of the face, relative to the other islands
ISLAND_MARGIN = 0.006  # gap between islands, in UV units


def lscm(points: np.ndarray, tris: np.ndarray, pins: tuple[int, int], pin_uv: np.ndarray) -> np.ndarray:
    """Least-squares conformal map of a disc-like triangle mesh; ``pins`` are fixed at ``pin_uv``."""
    p0, p1, p2 = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    e1 = p1 - p0
    l1 = np.linalg.norm(e1, axis=1)
    e1 /= l1[:, None]
    normal = np.cross(p1 - p0, p2 - p0)
    area = 0.5 * np.linalg.norm(normal, axis=1)
    e2 = np.cross(normal / (2 * area[:, None]), e1)
    # Local 2D coordinates of the corners; counter-clockwise because e2 = n × e1.
    xs = np.stack([np.zeros(len(tris)), l1, np.einsum("ij,ij->i", p2 - p0, e1)], 1)
    ys = np.stack([np.zeros(len(tris)), np.zeros(len(tris)), np.einsum("ij,ij->i", p2 - p0, e2)], 1)
    # Holomorphic: Σ_j U_j [(y_{j+1} − y_{j+2}) + i (x_{j+2} − x_{j+1})] = 0, weighted by 1/√area.
    scale = 1.0 / np.sqrt(area)
    a = (np.roll(ys, -1, axis=1) - np.roll(ys, -2, axis=1)) * scale[:, None]
    b = (np.roll(xs, -2, axis=1) - np.roll(xs, -1, axis=1)) * scale[:, None]
    n, m = len(points), len(tris)
    rows = np.repeat(np.arange(m), 3)
    cols = tris.ravel()
    # Real part: Σ a u − b v; imaginary part: Σ b u + a v. Unknowns are [u; v].
    index = (np.concatenate([rows, rows]), np.concatenate([cols, cols + n]))
    real = scipy.sparse.csr_matrix((np.concatenate([a.ravel(), -b.ravel()]), index), shape=(m, 2 * n))
    imag = scipy.sparse.csr_matrix((np.concatenate([b.ravel(), a.ravel()]), index), shape=(m, 2 * n))
    system = scipy.sparse.vstack([real, imag]).tocsc()
    pinned = np.array([pins[0], pins[1], pins[0] + n, pins[1] + n])
    pinned_values = np.array([pin_uv[0, 0], pin_uv[1, 0], pin_uv[0, 1], pin_uv[1, 1]])
    free = np.setdiff1d(np.arange(2 * n), pinned)
    a_free, a_pin = system[:, free], system[:, pinned]
    lhs = (a_free.T @ a_free).tocsc()
    rhs = -(a_free.T @ (a_pin @ pinned_values))
    solution = np.zeros(2 * n)
    solution[free] = scipy.sparse.linalg.spsolve(lhs, rhs)
    solution[pinned] = pinned_values
    return np.stack([solution[:n], solution[n:]], axis=1)


def _face_islands(layout: HeadLayout, labels: VertexLabels, verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Island name per face."""
    part = labels.part[faces]
    ring = labels.ring[faces]
    centroid = verts[faces].mean(axis=1)
    azimuth = np.arctan2(centroid[:, 0], centroid[:, 2] + 0.015)
    left = centroid[:, 0] > 0
    island = np.where(np.abs(azimuth) < FACE_ISLAND_HALF_ANGLE, "face", np.where(left, "left_side", "right_side"))
    island = island.astype(object)
    kind = layout.ring_kind
    top_ring = ring.max(axis=1)
    crown = (kind[np.maximum(top_ring, 0)] == RING_CROWN) | (top_ring < 0)
    island[crown] = "scalp"
    neck = np.isin(kind[np.maximum(ring.max(axis=1), 0)], (RING_NECK, RING_UNDER_CHIN))
    island[neck] = np.where(left[neck], "left_neck", "right_neck")
    ear = np.isfinite(labels.ear_u[faces]).all(axis=1)
    island[ear] = np.where(left[ear], "left_ear", "right_ear")
    island[(part == PART_MOUTH).any(axis=1)] = "mouth"
    island[(part == PART_LEFT_EYEBALL).all(axis=1)] = "left_eyeball"
    island[(part == PART_RIGHT_EYEBALL).all(axis=1)] = "right_eyeball"
    return _merge_fragments(island, faces)


def _merge_fragments(island: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Give stray pieces of an island (cut off by the rules above) to the neighbour they share most edges with."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(faces)), 3)
    _, edge_id = np.unique(edges, axis=0, return_inverse=True)
    order = np.argsort(edge_id, kind="stable")
    paired = edge_id[order][1:] == edge_id[order][:-1]
    a, b = owner[order][:-1][paired], owner[order][1:][paired]  # faces sharing an edge
    island = island.copy()
    for _ in range(4):
        same = island[a] == island[b]
        graph = scipy.sparse.coo_matrix((np.ones(same.sum()), (a[same], b[same])), shape=(len(faces), len(faces)))
        _, component = scipy.sparse.csgraph.connected_components(graph, directed=False)
        size = np.bincount(component)
        largest = {}
        for name in set(island):
            members = component[island == name]
            largest[name] = members[np.argmax(size[members])]
        stray = np.array([component[f] != largest[island[f]] for f in range(len(faces))])
        if not stray.any():
            break
        for comp in np.unique(component[stray]):
            members = component == comp
            across = (members[a] & ~members[b]) | (members[b] & ~members[a])
            neighbours = np.where(members[a[across]], island[b[across]], island[a[across]])
            names, counts = np.unique(neighbours.astype(str), return_counts=True)
            island[members] = names[np.argmax(counts)]
    return island


def _eyeball_uv(layout: HeadLayout, name: str, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Azimuthal map around the front pole: corner UVs (F, 3, 2) in [0, 1]² for the eyeball's faces."""
    ids = layout.eyeball_ids[name]
    local = faces - ids[0]
    ring_polar = np.pi * np.arange(1, EYEBALL_RINGS + 1) / (EYEBALL_RINGS + 1)
    polar = np.concatenate([[0.0, np.pi], np.repeat(ring_polar, EYEBALL_SEGMENTS)])
    azim = np.concatenate([[0.0, 0.0], np.tile(2 * np.pi * np.arange(EYEBALL_SEGMENTS) / EYEBALL_SEGMENTS, EYEBALL_RINGS)])
    corner_polar = polar[local]
    corner_azim = azim[local]
    # The back pole sits on the rim, at the azimuth of the face it belongs to.
    back = local == 1
    others = np.where(back, np.nan, corner_azim)
    ring_azim = np.angle(np.nansum(np.exp(1j * np.nan_to_num(others)) * ~back, axis=1))
    corner_azim = np.where(back, ring_azim[:, None], corner_azim)
    radius = 0.5 * corner_polar / np.pi
    return np.stack([0.5 + radius * np.cos(corner_azim), 0.5 + radius * np.sin(corner_azim)], axis=-1)


def uv_layout(
    layout: HeadLayout, labels: VertexLabels, verts: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``vt`` (T, 2) in [0, 1] and ``ft`` (F, 3)."""
    island_of = _face_islands(layout, labels, verts, faces)
    corner_uv = np.zeros((len(faces), 3, 2))
    boxes = {}
    for name in sorted(set(island_of)):
        face_ids = np.flatnonzero(island_of == name)
        tris = faces[face_ids]
        if name.endswith("eyeball"):
            points = verts[layout.eyeball_ids[name]]
            radius = np.linalg.norm(points - points.mean(axis=0), axis=1).mean()
            # Lengths from the pupil are kept at 70 %: the back of the eyeball needs little texture.
            corner_uv[face_ids] = _eyeball_uv(layout, name, tris) * (2 * np.pi * radius * 0.7)
        else:
            used, local = np.unique(tris, return_inverse=True)
            local = local.reshape(-1, 3)
            pts = verts[used]
            up = pts[:, 2] if name == "scalp" else pts[:, 1]  # the scalp is seen from above, forward up
            if name == "face":  # pin the midline, so the face stands upright
                up = np.where(np.abs(pts[:, 0]) < 0.004, up, np.nan)
            low, high = int(np.nanargmin(up)), int(np.nanargmax(up))
            pin_uv = np.array([[0.0, 0.0], [0.0, np.linalg.norm(pts[high] - pts[low])]])
            uv = lscm(pts, local, (low, high), pin_uv)
            corner_uv[face_ids] = uv[local]
        if name == "face":
            corner_uv[face_ids] *= np.sqrt(FACE_TEXEL_SHARE)
        lo = corner_uv[face_ids].reshape(-1, 2).min(axis=0)
        corner_uv[face_ids] -= lo
        boxes[name] = corner_uv[face_ids].reshape(-1, 2).max(axis=0)
    offsets, total = _pack(boxes)
    for name, offset in offsets.items():
        corner_uv[island_of == name] += offset
    corner_uv = (corner_uv + ISLAND_MARGIN * total) / (total * (1 + 2 * ISLAND_MARGIN))
    # One texture coordinate per distinct (island, vertex) pair; eyeball back poles get one per face.
    key = np.round(corner_uv.reshape(-1, 2), 12)
    vertex_key = np.stack([faces.ravel().astype(np.float64), key[:, 0], key[:, 1]], 1)
    unique, inverse = np.unique(vertex_key, axis=0, return_inverse=True)
    return unique[:, 1:].copy(), inverse.reshape(-1, 3).astype(np.int64)


def _pack(boxes: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    """Shelf packing of island bounding boxes (tallest first) into the smallest square found; offsets and its side."""
    gap = ISLAND_MARGIN * np.sqrt(sum(b[0] * b[1] for b in boxes.values()))
    order = sorted(boxes, key=lambda n: (-boxes[n][1], n))
    widest = max(b[0] for b in boxes.values()) + gap
    best: tuple[float, dict[str, np.ndarray]] | None = None
    for width in np.linspace(widest, sum(b[0] + gap for b in boxes.values()), 60):
        offsets = {}
        x = y = shelf = 0.0
        for name in order:
            w, h = boxes[name]
            if x + w > width + 1e-12 and x > 0:
                x, y, shelf = 0.0, y + shelf + gap, 0.0
            offsets[name] = np.array([x, y])
            x += w + gap
            shelf = max(shelf, h)
        side = max(max(offsets[n][0] + boxes[n][0] for n in order), y + shelf)
        if best is None or side < best[0] - 1e-12:
            best = (side, offsets)
    return best[1], float(best[0])
