"""The painted brows end on the front of the head, in front of the temple, on the built-in head's shapes.

The brow is painted in texture space from the template's anatomy; a texel
keeps its place on the surface whatever the shape. Painted past the lateral
orbital rim, the tail lay on the temple, which faces sideways: on a head
turned from the camera it reached the far side's outline, and dlib fitted
the brow's end beyond the head. Truth here is the posed surface itself: the
normals of the brow's texels on a turned head, against the view direction.
"""

import dataclasses

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ffn_render.appearance.albedo import texel_size
from ffn_render.appearance.anatomy import head_anatomy
from ffn_render.appearance.canvas import SurfaceCanvas
from ffn_render.appearance.hair import paint_brows
from ffn_render.appearance.seeding import stream
from ffn_render.appearance.traits import sample_traits
from ffn_render.appearance.uvmap import interpolate, rasterize_uv
from ffn_render.facemodel import FaceModelRef
from ffn_render.meshes import vertex_normals

TEXTURE = 512  # as the plausibility test paints
TURN_DEG = 20.0  # about the largest head turn from the camera in the plausibility test's frames
GRAZING_DEG = 75.0  # a brow texel turned further than this from the view sits on the outline


@pytest.fixture(scope="module")
def head():
    model = FaceModelRef().load()
    raster = rasterize_uv(model.vt, model.ft, TEXTURE)
    face = np.zeros(model.n_vertices)
    face[model.regions["face"]] = 1.0
    return model, raster, interpolate(raster, model.faces, model.v_template), interpolate(raster, model.faces, face)


def brow_cover(head, seed: int = 5) -> np.ndarray:
    """Brow hair cover (0..1) per texel of the longest, widest-set brow the traits draw."""
    model, raster, points, face = head
    traits = dataclasses.replace(sample_traits(seed), brow_length=0.058, brow_gap=-0.003, brow_density=1.0)
    canvas = SurfaceCanvas.blank(np.full((len(points), 3), 0.5))
    paint_brows(canvas, points, face, head_anatomy(model), traits, stream(seed, "albedo.brows"), texel_size(model, TEXTURE))
    return 2.0 * canvas.height  # brows paint height 0.5 with the cover as alpha onto height 0


@pytest.mark.parametrize("shape", [{}, {"temple_width": -3.0}, {"head_width": -3.0, "temple_width": -3.0}, {"eye_spacing": 3.0}])
def test_brow_texels_face_the_camera_of_a_turned_head(head, shape):
    model, raster, _, _ = head
    cover = brow_cover(head)
    beta = np.zeros(model.n_shape)
    for name, value in shape.items():
        beta[model.shape_names.index(name)] = value
    rest = model.forward(beta[None], np.zeros((1, 15)), np.zeros((1, model.n_expr)))[0]
    normals = interpolate(raster, model.faces, vertex_normals(rest, model.faces))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    points = interpolate(raster, model.faces, model.v_template)
    eyes = head_anatomy(model).eyes
    for turn in (TURN_DEG, -TURN_DEG):  # the head turned left, then right: each brow is once on the far side
        view = Rotation.from_euler("y", turn, degrees=True).inv().apply([0.0, 0.0, 1.0])  # to the camera, head frame
        facing = np.degrees(np.arccos(np.clip(normals @ view, -1.0, 1.0)))
        # The outer half of the brow on the side turned away: the tail, which a turn brings towards the outline
        # (the inner half's lower edge lies on the brow ridge's underside, facing down, whatever the turn).
        eye = eyes[np.argmax(eyes[:, 0] * -view[0])]
        far = (cover > 0.3) & ((points[:, 0] - eye[0]) * np.sign(eye[0]) > 0)
        assert far.sum() > 20, "no brow tail painted on the far side"
        assert facing[far].max() < GRAZING_DEG, f"{shape}, turned {turn:+.0f}°: a brow texel {facing[far].max():.0f}° from the view"


def test_brow_reaches_past_the_eye_and_ends_at_the_orbital_rim(head):
    model, _, points, _ = head
    anatomy = head_anatomy(model)
    cover = brow_cover(head)
    for eye, rim in zip(anatomy.eyes, anatomy.orbital_rims):
        side = np.sign(eye[0])
        outward = (points[:, 0] - eye[0]) * side
        on_side = (cover > 0.3) & (np.sign(points[:, 0]) == side)
        corner = np.max((anatomy.apertures[:, 0] - eye[0]) * side)  # the eye opening's outer corner
        assert outward[on_side].max() > corner + 0.005  # a brow still runs well past the eye
        assert outward[on_side].max() < rim  # and stops in front of the temple
