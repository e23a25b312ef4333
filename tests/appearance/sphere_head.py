"""A small FLAME-layout test head built from spheres: an ellipsoid skull and two eyeballs.

Its UV layout is written by hand, so tests know exactly which texel maps to
which surface point: the skull is an equirectangular map over
u ∈ [0, 1], v ∈ [0.3, 1] with the seam at the back of the head and the face
(+z) at u = ½; each eyeball has an equirectangular island in the bottom band.
"""

from __future__ import annotations

import numpy as np

from ffn_render.facemodel import FaceModel, face_model_from_arrays

SKULL_RADII = np.array([0.08, 0.11, 0.10])
EYE_RADIUS = 0.012
EYE_CENTRES = np.array([[0.032, 0.02, 0.085], [-0.032, 0.02, 0.085]])  # left (+x), right
SKULL_V_RANGE = (0.3, 1.0)
EYE_ISLANDS = ((0.0, 0.0, 0.25, 0.25), (0.3, 0.0, 0.55, 0.25))  # u0, v0, u1, v1


def _uv_sphere(n_lat: int, n_lon: int, radii: np.ndarray, centre: np.ndarray, uv_box: tuple[float, float, float, float]):
    """Vertices (unique, poles shared, seam shared), vt (one per grid node), faces and UV faces."""
    lat = np.linspace(0.0, np.pi, n_lat + 1)
    lon = np.linspace(-np.pi, np.pi, n_lon + 1)  # lon 0 (grid column n_lon/2) faces +z

    def vid(i: int, j: int) -> int:
        if i == 0:
            return 0
        if i == n_lat:
            return 1 + (n_lat - 1) * n_lon
        return 1 + (i - 1) * n_lon + j % n_lon

    n_vert = 2 + (n_lat - 1) * n_lon
    vertices = np.zeros((n_vert, 3))
    for i in range(n_lat + 1):
        for j in range(n_lon):
            s = np.sin(lat[i])
            vertices[vid(i, j)] = centre + radii * np.array([s * np.sin(lon[j]), np.cos(lat[i]), s * np.cos(lon[j])])
    u0, v0, u1, v1 = uv_box
    grid_u, grid_v = np.meshgrid(np.linspace(u0, u1, n_lon + 1), np.linspace(v1, v0, n_lat + 1))
    vt = np.stack([grid_u.ravel(), grid_v.ravel()], axis=1)
    faces, uv_faces = [], []
    for i in range(n_lat):
        for j in range(n_lon):
            a, b, c, d = (i, j), (i, j + 1), (i + 1, j), (i + 1, j + 1)
            for tri in ((a, c, b), (b, c, d)):
                ids = [vid(*corner) for corner in tri]
                if len(set(ids)) == 3:  # drop the zero-area triangles at the poles
                    faces.append(ids)
                    uv_faces.append([corner[0] * (n_lon + 1) + corner[1] for corner in tri])
    return vertices, vt, np.array(faces), np.array(uv_faces)


def sphere_head_arrays(n_lat: int = 32, n_lon: int = 64, eye_lat: int = 10, eye_lon: int = 20) -> dict:
    """FLAME-key arrays (with vt/ft and mask_* regions) of the test head."""
    skull_u0, skull_v0 = 0.0, SKULL_V_RANGE[0]
    parts = [_uv_sphere(n_lat, n_lon, SKULL_RADII, np.zeros(3), (skull_u0, skull_v0, 1.0, SKULL_V_RANGE[1]))]
    for centre, island in zip(EYE_CENTRES, EYE_ISLANDS):
        parts.append(_uv_sphere(eye_lat, eye_lon, np.full(3, EYE_RADIUS), centre, island))
    vertices, vts, faces, uv_faces, owner = [], [], [], [], []
    for k, (v, vt, f, ft) in enumerate(parts):
        faces.append(f + sum(len(p) for p in vertices))
        uv_faces.append(ft + sum(len(p) for p in vts))
        vertices.append(v)
        vts.append(vt)
        owner.append(np.full(len(v), k))
    v_template = np.concatenate(vertices)
    owner = np.concatenate(owner)
    n_vert = len(v_template)
    x, y, z = v_template.T
    skull = owner == 0
    regions = {
        "face": np.flatnonzero(skull & (z > 0.03) & (y > -0.085) & (y < 0.06)),
        "lips": np.flatnonzero(skull & (z > 0.05) & (np.abs(x) < 0.025) & (np.abs(y + 0.05) < 0.01)),
        "nose": np.flatnonzero(skull & (z > 0.05) & (np.abs(x) < 0.015) & (np.abs(y + 0.01) < 0.02)),
        "scalp": np.flatnonzero(skull & ((y > 0.06) | ((z < -0.02) & (y > -0.02)))),
        "neck": np.flatnonzero(skull & (y < -0.09)),
        "left_eyeball": np.flatnonzero(owner == 1),
        "right_eyeball": np.flatnonzero(owner == 2),
    }
    joint_of_vertex = np.where(owner == 0, 1, owner + 2)  # skull → neck joint, eyeballs → eye joints
    weights = np.eye(5)[joint_of_vertex]
    j_regressor = np.zeros((5, n_vert))
    j_regressor[0, skull] = 1.0 / skull.sum()
    j_regressor[1, skull] = 1.0 / skull.sum()
    j_regressor[2, skull] = 1.0 / skull.sum()
    for j, k in ((3, 1), (4, 2)):
        j_regressor[j, owner == k] = 1.0 / (owner == k).sum()
    rng = np.random.default_rng(0)
    arrays = {
        "v_template": v_template,
        "f": np.concatenate(faces),
        "shapedirs": rng.normal(scale=0.001, size=(n_vert, 3, 4)),
        "n_shape": np.array(2),
        "posedirs": np.zeros((n_vert, 3, 36)),
        "J_regressor": j_regressor,
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "vt": np.concatenate(vts),
        "ft": np.concatenate(uv_faces),
    }
    arrays.update({f"mask_{name}": index for name, index in regions.items()})
    return arrays


def sphere_head(**kwargs) -> FaceModel:
    return face_model_from_arrays(sphere_head_arrays(**kwargs), name="sphere-head", source="<test>")
