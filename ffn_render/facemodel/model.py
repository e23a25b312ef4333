"""The face model: FLAME-layout arrays and the linear-blend-skinning forward pass.

One class serves the real FLAME model and the built-in head alike; both are
read from files in FLAME's key layout (see :mod:`.flame_io`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import FaceModelError

if TYPE_CHECKING:  # torch and smplx load on the first forward pass, so the core runs without them
    import torch

JOINT_NAMES = ("root", "neck", "jaw", "left_eye", "right_eye")
POSE_SIZE = 3 * len(JOINT_NAMES)  # axis-angle: global, neck, jaw, left eye, right eye


@dataclass(frozen=True, eq=False)
class FaceModel:
    """Arrays of a FLAME-layout face model (metres, y up, face towards +z).

    ``shapedirs`` holds only the identity part and ``exprdirs`` the
    expression part of FLAME's combined ``shapedirs``.
    """

    name: str
    v_template: np.ndarray  # (V, 3)
    faces: np.ndarray  # (F, 3)
    shapedirs: np.ndarray  # (V, 3, S)
    exprdirs: np.ndarray  # (V, 3, E)
    posedirs: np.ndarray  # (V, 3, 9·(J−1))
    j_regressor: np.ndarray  # (J, V)
    weights: np.ndarray  # (V, J)
    parents: np.ndarray  # (J,), −1 for the root
    vt: np.ndarray | None = None  # (T, 2) UV coordinates
    ft: np.ndarray | None = None  # (F, 3) UV indices per face
    regions: dict[str, np.ndarray] = field(default_factory=dict)
    expression_names: tuple[str, ...] = ()
    shape_names: tuple[str, ...] = ()

    @property
    def n_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def n_shape(self) -> int:
        return int(self.shapedirs.shape[2])

    @property
    def n_expr(self) -> int:
        return int(self.exprdirs.shape[2])

    @functools.cached_property
    def _tensors(self) -> dict[str, torch.Tensor]:
        import torch

        as_t = functools.partial(torch.as_tensor, dtype=torch.float64)
        n_pose = self.posedirs.shape[2]
        return {
            "v_template": as_t(self.v_template),
            "shapedirs": as_t(self.shapedirs),
            "exprdirs": as_t(self.exprdirs),
            # smplx expects pose correctives as (P, V·3).
            "posedirs": as_t(self.posedirs.reshape(-1, n_pose).T.copy()),
            "j_regressor": as_t(self.j_regressor),
            "weights": as_t(self.weights),
            "parents": torch.as_tensor(self.parents, dtype=torch.long),
        }

    def _coefficients(self, beta, theta, psi) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        beta = _as_batch(beta, "beta")
        psi = _as_batch(psi, "psi")
        theta = _as_batch(theta, "theta")
        if beta.shape[1] > self.n_shape:
            raise FaceModelError(f"{self.name}: {beta.shape[1]} shape coefficients given, model holds {self.n_shape}")
        if psi.shape[1] > self.n_expr:
            raise FaceModelError(f"{self.name}: {psi.shape[1]} expression coefficients given, model holds {self.n_expr}")
        if theta.shape[1] != POSE_SIZE:
            raise FaceModelError(f"{self.name}: pose must have {POSE_SIZE} values (global, neck, jaw, eyes), got {theta.shape[1]}")
        batch = {beta.shape[0], psi.shape[0], theta.shape[0]} - {1}
        if len(batch) > 1:
            raise FaceModelError(f"{self.name}: batch sizes of beta, theta, psi differ: {beta.shape[0]}, {theta.shape[0]}, {psi.shape[0]}")
        size = batch.pop() if batch else 1
        return beta.expand(size, -1), theta.expand(size, -1), psi.expand(size, -1)

    def _blend_inputs(self, beta, theta, psi):
        import torch

        beta, theta, psi = self._coefficients(beta, theta, psi)
        t = self._tensors
        dirs = torch.cat([t["shapedirs"][..., : beta.shape[1]], t["exprdirs"][..., : psi.shape[1]]], dim=2)
        return torch.cat([beta, psi], dim=1), theta, dirs

    def forward(self, beta, theta, psi) -> np.ndarray:
        """Posed vertices (B, V, 3) for batches of β (B, ≤S), θ (B, 15), ψ (B, ≤E).

        Fewer coefficients than the model holds are allowed (EMOCA gives 100
        shape / 50 expression); the missing ones count as zero.
        """
        from smplx.lbs import lbs

        coeffs, theta, dirs = self._blend_inputs(beta, theta, psi)
        t = self._tensors
        verts, _ = lbs(coeffs, theta, t["v_template"], dirs, t["posedirs"], t["j_regressor"], t["parents"], t["weights"])
        return verts.numpy()

    def joints(self, beta, theta, psi) -> np.ndarray:
        """Posed joint locations (B, J, 3)."""
        from smplx.lbs import lbs

        coeffs, theta, dirs = self._blend_inputs(beta, theta, psi)
        t = self._tensors
        _, posed_joints = lbs(coeffs, theta, t["v_template"], dirs, t["posedirs"], t["j_regressor"], t["parents"], t["weights"])
        return posed_joints.numpy()

    def rest_joints(self, beta, psi) -> np.ndarray:
        """Joint locations (B, J, 3) of the unposed, shaped mesh."""
        import torch
        from smplx.lbs import vertices2joints

        coeffs, _, dirs = self._blend_inputs(beta, np.zeros(POSE_SIZE), psi)
        t = self._tensors
        shaped = t["v_template"] + torch.einsum("bk,vdk->bvd", coeffs, dirs)
        return vertices2joints(t["j_regressor"], shaped).numpy()


def _as_batch(values, label: str) -> torch.Tensor:
    import torch

    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2:
        raise FaceModelError(f"{label} must be a vector or a (batch, k) array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise FaceModelError(f"{label} contains NaN or infinite values")
    return torch.from_numpy(array)
