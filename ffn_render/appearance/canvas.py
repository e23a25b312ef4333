"""Surface layers painted per texel: colour plus the material maps the skin shader reads.

Every procedural feature paints the same four layers, so a beard is dark,
rough and bumpy in one stroke: linear colour, roughness, a specular scale
(1 = the material's base specular level) and a height offset for bump
mapping (metres-free, 0 = the mean surface; positive is raised). The map stores
roughness and specular as scales of the render material's settings, so the
render config's ``skin.roughness`` stays the skin's roughness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SKIN_ROUGHNESS = 0.45
# Height is stored in the map as 0.5 + HEIGHT_RANGE·h, so h in [−1, 1] uses the full 8 bits.
HEIGHT_RANGE = 0.5


@dataclass
class SurfaceCanvas:
    """Per-point layers (N points); ``paint`` blends a feature onto them."""

    colour: np.ndarray  # (N, 3) linear RGB
    roughness: np.ndarray  # (N,) absolute, 0..1
    specular: np.ndarray  # (N,) scale of the material's specular level, 0..2
    height: np.ndarray  # (N,) bump height, −1..1

    @classmethod
    def blank(cls, colour: np.ndarray) -> SurfaceCanvas:
        n = len(colour)
        return cls(colour, np.full(n, SKIN_ROUGHNESS), np.ones(n), np.zeros(n))

    def paint(
        self,
        where: np.ndarray,
        alpha: np.ndarray,
        colour: np.ndarray | None = None,
        roughness: float | np.ndarray | None = None,
        specular: float | np.ndarray | None = None,
        height: float | np.ndarray | None = None,
    ) -> None:
        """Blend each given layer towards its value at points ``where`` (bool (N,) or indices) by ``alpha`` (M,)."""
        a = np.clip(np.asarray(alpha, dtype=np.float64), 0.0, 1.0)
        if colour is not None:
            self.colour[where] = self.colour[where] * (1 - a[:, None]) + np.asarray(colour) * a[:, None]
        for layer, value in ((self.roughness, roughness), (self.specular, specular), (self.height, height)):
            if value is not None:
                layer[where] = layer[where] * (1 - a) + np.asarray(value) * a

    def material_rgb(self) -> np.ndarray:
        """The material map (N, 3) in [0, 1]: roughness / skin roughness / 2, specular scale / 2, 0.5 + HEIGHT_RANGE·height."""
        return np.clip(
            np.column_stack([0.5 * self.roughness / SKIN_ROUGHNESS, 0.5 * self.specular, 0.5 + HEIGHT_RANGE * self.height]), 0.0, 1.0
        )
