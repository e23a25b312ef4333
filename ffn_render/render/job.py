"""From a sequence spec to a render job: meshes, appearance and camera as arrays and protocol records.

Everything here is numpy; the Blender side receives only the job record
(``blender_scripts.protocol.SequenceJob``), the arrays and the texture files
this module writes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from blender_scripts import protocol

from ..appearance import Appearance, CameraSpec, LightSpec
from ..dataset.layout import SequenceKey
from ..errors import RenderError
from ..facemodel import FaceModel
from ..camera import PinholeCamera
from ..sequence import SequenceSpec

EYEBALL_REGIONS = ("left_eyeball", "right_eyeball")
BACKGROUND_LABEL = "background"
OTHER_LABEL = "other"
# The head must stay this far (m) in front of the background plane, or the depth-derived mask breaks.
PLANE_CLEARANCE_M = 0.01


@dataclass(frozen=True, eq=False)
class HeadTopology:
    """The head mesh as Blender builds it: faces, UVs, a region label and a material per face."""

    key: str  # identifies the topology; the Blender side rebuilds its mesh when it changes
    faces: np.ndarray  # (F, 3) int32
    corner_uv: np.ndarray  # (3F, 2) float32, UV of each face corner
    face_region: np.ndarray  # (F,) int32 segmentation label of each face (1..K+1)
    eye_faces: np.ndarray  # (F,) bool, faces drawn with the eye material
    labels: tuple[str, ...]  # labels[k] names segmentation label k; 0 is the background

    def arrays(self) -> dict[str, np.ndarray]:
        return {"faces": self.faces, "corner_uv": self.corner_uv, "face_region": self.face_region, "eye_faces": self.eye_faces}


def head_topology(model: FaceModel) -> HeadTopology:
    """Build the render topology of a face model.

    Segmentation labels: each face gets the smallest of the model's regions
    that holds all three of its vertices (smaller regions are the more
    specific ones: lips inside face), or ``other`` when none does.
    """
    if model.vt is None or model.ft is None:
        raise RenderError(f"{model.name}: the face model has no UV layout, so it cannot be textured (pass a UV file, e.g. --uv FLAME_texture.npz)")
    faces = np.asarray(model.faces, dtype=np.int64)
    names = sorted(model.regions, key=lambda name: (len(model.regions[name]), name))
    face_region = np.full(len(faces), len(names) + 1, dtype=np.int32)
    for label in range(len(names), 0, -1):  # largest first, so smaller regions overwrite
        member = np.zeros(model.n_vertices, dtype=bool)
        member[model.regions[names[label - 1]]] = True
        face_region[member[faces].all(axis=1)] = label
    eyeball = np.zeros(model.n_vertices, dtype=bool)
    for name in EYEBALL_REGIONS:
        if name in model.regions:
            eyeball[model.regions[name]] = True
    corner_uv = np.asarray(model.vt, dtype=np.float32)[np.asarray(model.ft)].reshape(-1, 2)
    digest = hashlib.sha1()
    for array in (faces, corner_uv, face_region):
        digest.update(np.ascontiguousarray(array).tobytes())
    return HeadTopology(
        key=f"{model.name}-{digest.hexdigest()[:16]}",
        faces=faces.astype(np.int32),
        corner_uv=corner_uv,
        face_region=face_region,
        eye_faces=eyeball[faces].all(axis=1),
        labels=(BACKGROUND_LABEL, *names, OTHER_LABEL),
    )


def center_crop_to_aspect(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The largest centred crop of ``image`` with the aspect ratio width:height."""
    rows, cols = image.shape[:2]
    if cols * height > rows * width:  # too wide
        keep = max(1, round(rows * width / height))
        start = (cols - keep) // 2
        return image[:, start:start + keep]
    keep = max(1, round(cols * height / width))
    start = (rows - keep) // 2
    return image[start:start + keep]


@dataclass(frozen=True, eq=False)
class SequenceJob:
    """One sequence, ready to render: meshes, appearance, camera and the background plane."""

    spec: SequenceSpec
    key: SequenceKey
    model: FaceModel
    topology: HeadTopology
    appearance: Appearance
    camera: PinholeCamera  # the projection Blender renders with
    verts_f: np.ndarray  # (n, V, 3) facial frames t = 1..n
    verts_h: np.ndarray  # (n−1, V, 3) head frames t = 2..n
    background_depth_m: float  # planar depth of the background plane

    def payload(self, out_dir: str | os.PathLike, head_images: bool) -> tuple[protocol.SequenceJob, dict[str, np.ndarray]]:
        """The job record and arrays for ``HeadScene.run_sequence``; writes the texture files into ``out_dir``."""
        out_dir = Path(out_dir)
        textures_dir = out_dir / "textures"
        textures_dir.mkdir(parents=True, exist_ok=True)
        app = self.appearance
        images = {
            "albedo": app.albedo,
            "eye_albedo": app.eye_albedo if app.eye_albedo is not None else app.albedo,
            "background": center_crop_to_aspect(app.background, self.camera.width, self.camera.height),
            "material": app.material,
        }
        textures = {}
        for name, image in images.items():
            path = textures_dir / f"{name}.png"
            Image.fromarray(np.ascontiguousarray(image)).save(path, compress_level=1)
            textures[name] = protocol.Texture(path=str(path), size=(int(image.shape[1]), int(image.shape[0])))
        job = protocol.SequenceJob(
            seq_id=self.spec.seq_id,
            seed=int(self.spec.seed),
            out_dir=str(out_dir),
            mesh_key=self.topology.key,
            head_images=bool(head_images),
            textures=textures,
            camera=blender_camera(app.camera),
            background_depth_m=self.background_depth_m,
            lights=tuple(blender_light(light) for light in app.lights),
            world=protocol.World(color_rgb=tuple(app.world_color_rgb), strength=app.world_strength),
        )
        arrays = {"verts_f": self.verts_f.astype(np.float32), "verts_h": self.verts_h.astype(np.float32), **self.topology.arrays()}
        return job, arrays


def blender_camera(camera: CameraSpec) -> protocol.Camera:
    return protocol.Camera(lens_mm=camera.lens_mm, sensor_width_mm=camera.sensor_width_mm, location=tuple(camera.location),
                           rotation_euler=tuple(camera.rotation_euler), clip_start=camera.clip_start, clip_end=camera.clip_end)


def blender_light(light: LightSpec) -> protocol.Light:
    return protocol.Light(kind=light.kind, location=tuple(light.location), rotation_euler=tuple(light.rotation_euler),
                          energy_w=light.energy_w, color_rgb=tuple(light.color_rgb), size_m=light.size_m)


def build_job(
    spec: SequenceSpec, model: FaceModel, topology: HeadTopology, appearance: Appearance, width: int, height: int
) -> SequenceJob:
    """Meshes of every frame and the background plane's depth; refuses a head that reaches the plane."""
    key = SequenceKey(spec.split, spec.emotion, spec.seq_id).check()
    verts_f, verts_h = spec.vertices(model)
    if len(verts_f) != spec.n or len(verts_h) != spec.n - 1:
        raise RenderError(f"{spec.seq_id}: spec has {len(verts_f)} facial and {len(verts_h)} head frames for n={spec.n}")
    cam = appearance.camera
    camera = cam.pinhole(width, height)
    forward = cam.forward
    aim_depth = float(np.dot(np.asarray(appearance.target) - np.asarray(cam.location), forward))
    plane_depth = aim_depth + float(appearance.background_distance_m)
    head_depth = float(max(camera.depth(v.reshape(-1, 3)).max() for v in (verts_f, verts_h) if len(v)))
    if head_depth > plane_depth - PLANE_CLEARANCE_M:
        raise RenderError(
            f"{spec.seq_id}: the head reaches {head_depth:.3f} m from the camera, behind the background plane at "
            f"{plane_depth:.3f} m; raise appearance.background_distance_m"
        )
    near = float(min(camera.depth(v.reshape(-1, 3)).min() for v in (verts_f, verts_h) if len(v)))
    if near <= cam.clip_start:
        raise RenderError(f"{spec.seq_id}: the head comes within the camera's clip_start ({near:.3f} m)")
    return SequenceJob(spec, key, model, topology, appearance, camera, verts_f, verts_h, plane_depth)
