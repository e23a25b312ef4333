"""Frames of the built-in head with known parameters, rendered by the project's renderer (Blender Cycles).

A sequence spec's facial frame t carries the parameters (t/n)·θ, (t/n)·ψ
(SPEC §1), and the sequence metadata holds the exact camera, so every frame
is an image with known pose, jaw opening and camera: the independent truth
the fitting tests compare against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ffn_render.camera import PinholeCamera
from ffn_render.facemodel import FaceModelRef
from ffn_render.render import parse_config
from ffn_render.render.pipeline import DatasetRenderer
from ffn_render.render.worker import open_worker
from ffn_render.sequence import SequenceSpec, frame_parameters

SIZE = 512
# Light skin and a modest camera orbit: the tests measure the fit, not dlib's detector at its limits.
APPEARANCE = {"texture_size": 512, "background_size": 256, "skin_tone": [1.0, 3.0], "bald_probability": 0.0}


@dataclass(frozen=True)
class KnownFrame:
    image: Path
    beta: np.ndarray
    theta: np.ndarray
    psi: np.ndarray
    camera: PinholeCamera

    def true_landmarks(self, model, embedding) -> np.ndarray:
        """(68, 2) ``embedding``'s landmarks on the head at the frame's true β, θ, ψ, seen by its true camera: the
        points a perfect fit's landmarks (through the same embedding) would be."""
        from ffn_render.facemodel.fit import landmarks_in_image

        yaw, pitch = head_turn_to_camera_deg(self.camera.rotation, self.theta)
        return landmarks_in_image(model, embedding, self.beta, self.theta, self.psi, self.camera, yaw, pitch)

    def head_rotation_in_camera(self) -> np.ndarray:
        """World → camera rotation of the head (global · neck), in OpenCV camera axes (x right, y down, z forward)."""
        head = Rotation.from_rotvec(self.theta[0:3]) * Rotation.from_rotvec(self.theta[3:6])
        flip = np.diag([1.0, -1.0, -1.0])
        return flip @ self.camera.rotation @ head.as_matrix()


def head_turn_to_camera_deg(camera_rotation: np.ndarray, theta: np.ndarray) -> tuple[float, float]:
    """Yaw and pitch of the head to a camera of world → camera ``camera_rotation`` (Blender axes): the turn a fit
    sees, whose own camera is not rotated (camera · global · neck), as the landmark points are chosen by."""
    from ffn_render.facemodel.fit import head_turn_deg

    head = Rotation.from_matrix(camera_rotation) * Rotation.from_rotvec(theta[0:3]) * Rotation.from_rotvec(theta[3:6])
    yaw, pitch = head_turn_deg(np.r_[head.as_rotvec(), np.zeros(3)][None])[0]
    return float(yaw), float(pitch)


def pose_theta(yaw_deg: float, pitch_deg: float, roll_deg: float, jaw: float) -> np.ndarray:
    theta = np.zeros(15)
    theta[0:3] = Rotation.from_euler("YXZ", np.radians([yaw_deg, pitch_deg, roll_deg])).as_rotvec()
    theta[6] = jaw
    return theta


def spec(seq_id: str, theta: np.ndarray, psi: np.ndarray, beta: np.ndarray, n: int, seed: int) -> SequenceSpec:
    frames_f, frames_h = frame_parameters(theta, psi, n)
    return SequenceSpec(
        seq_id=seq_id, split="train", emotion="neutral", n=n, seed=seed, identity=seq_id, record_id=seq_id,
        source="prior", image=None, face=FaceModelRef(), texture=None, background=None,
        beta=tuple(map(float, beta)), theta=tuple(map(float, theta)), psi=tuple(map(float, psi)),
        frames_f=frames_f, frames_h=frames_h,
    )


def render_known(out: Path, specs: list[SequenceSpec], samples: int = 8) -> list[KnownFrame]:
    """Render ``specs`` at 512² (beauty frames only matter) and return every facial frame with its truth."""
    config = parse_config(
        {"render": {"width": SIZE, "height": SIZE, "samples": samples, "denoiser": "oidn", "device": "cpu",
                    "head_images": False},
         "appearance": APPEARANCE},
        source="<known renders>",
    )
    worker = open_worker(config.render.blender_settings())
    try:
        for _ in DatasetRenderer(config, out / "root", worker).render_all(specs):
            pass
    finally:
        worker.close()
    return read_known(out, [s.seq_id for s in specs])


def read_known(out: Path, seq_ids: list[str], emotion: str = "neutral") -> list[KnownFrame]:
    """Every facial frame of the rendered sequences ``seq_ids`` under ``out``, with its truth from the metadata."""
    frames = []
    for seq_id in seq_ids:
        meta = json.loads((out / "root" / "meta" / "train" / emotion / f"{seq_id}.json").read_text())
        cam = meta["camera"]
        camera = PinholeCamera(
            fx=cam["fx"], fy=cam["fy"], cx=cam["cx"], cy=cam["cy"], width=cam["width"], height=cam["height"],
            rotation=np.asarray(cam["world_to_camera_blender"])[:3, :3],
            translation=np.asarray(cam["world_to_camera_blender"])[:3, 3],
        )
        for frame in meta["spec"]["frames_f"]:
            image = out / "root" / "image" / "facial" / "train" / emotion / seq_id / f"{frame['t']:04d}.jpg"
            frames.append(KnownFrame(image, np.asarray(meta["spec"]["beta"]), np.asarray(frame["theta"]),
                                     np.asarray(frame["psi"]), camera))
    return frames


def true_euler_deg(frame: KnownFrame) -> np.ndarray:
    """Yaw, pitch, roll (YXZ) of the head's true rotation in the camera frame (camera · global · neck)."""
    truth = Rotation.from_matrix(frame.camera.rotation) * Rotation.from_rotvec(frame.theta[0:3]) * Rotation.from_rotvec(frame.theta[3:6])
    return truth.as_euler("YXZ", degrees=True)


def euler_differences_deg(frame: KnownFrame, fit) -> np.ndarray:
    """Fitted minus true yaw, pitch, roll of the head's rotation in the camera frame (a fit's camera: identity)."""
    got = Rotation.from_rotvec(fit.theta[0:3]) * Rotation.from_rotvec(fit.theta[3:6])
    return got.as_euler("YXZ", degrees=True) - true_euler_deg(frame)


def euler_errors_deg(frame: KnownFrame, fit) -> np.ndarray:
    """|yaw|, |pitch|, |roll| differences of the head's rotation in the camera frame (a fit's camera: identity)."""
    return np.abs(euler_differences_deg(frame, fit))
