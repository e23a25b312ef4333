"""The camera, once: Blender's description of it (:class:`CameraSpec`) and the projection it renders with
(:class:`PinholeCamera`), written from Blender's documented conventions and pinned against ``bpy`` in the tests.

A Blender camera looks along its local −Z with +Y up and +X right; its pose is a location and an 'XYZ'
Euler rotation (R = Rz·Ry·Rx); focal length and sensor are in mm, with a sensor fit and lens shift. Pixel
coordinates follow SPEC §3: x right, y down, and the centre of pixel (x, y) is at (x + 0.5, y + 0.5); the
image spans [0, W) × [0, H). A leaf module (numpy only): labels, appearance, params and render use it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .errors import AppearanceError

SENSOR_FITS = ("AUTO", "HORIZONTAL", "VERTICAL")


def euler_xyz_to_matrix(rotation_euler: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """Blender's 'XYZ' Euler (radians) as a 3×3 matrix: X applied first, so R = Rz·Ry·Rx."""
    ax, ay, az = (float(a) for a in rotation_euler)
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rot_x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rot_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rot_z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rot_z @ rot_y @ rot_x


@dataclass(frozen=True, eq=False)
class PinholeCamera:
    """A perspective camera in Blender's axis convention, projecting to SPEC §3 pixels.

    ``rotation`` and ``translation`` map world points into camera space
    (``p_cam = rotation @ p + translation``), where the camera looks along
    −Z with +Y up and +X right. ``fx``, ``fy`` are focal lengths in pixels;
    ``cx``, ``cy`` the principal point in pixel coordinates (y down).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    rotation: np.ndarray
    translation: np.ndarray

    @classmethod
    def from_blender(
        cls,
        location: tuple[float, float, float] | np.ndarray = (0.0, 0.0, 0.0),
        rotation_euler: tuple[float, float, float] | np.ndarray = (0.0, 0.0, 0.0),
        lens_mm: float = 50.0,
        sensor_width_mm: float = 36.0,
        width: int = 512,
        height: int = 512,
        *,
        matrix_world: np.ndarray | None = None,
        sensor_height_mm: float = 24.0,
        sensor_fit: str = "AUTO",
        shift_x: float = 0.0,
        shift_y: float = 0.0,
    ) -> PinholeCamera:
        """Build the camera Blender would render with (square pixels).

        Pose is ``location`` + 'XYZ' ``rotation_euler`` (radians), or a 4×4
        ``matrix_world`` (which then overrides both; scale is ignored). As in
        Blender, AUTO fit applies ``sensor_width_mm`` to the larger image
        dimension, HORIZONTAL applies it to the width, VERTICAL applies
        ``sensor_height_mm`` to the height; ``shift_x``/``shift_y`` are in units
        of that same dimension and move the view right/up.
        """
        if sensor_fit not in SENSOR_FITS:
            raise ValueError(f"sensor_fit must be one of {SENSOR_FITS}, got {sensor_fit!r}")
        if width <= 0 or height <= 0 or lens_mm <= 0:
            raise ValueError(f"invalid camera: {width}x{height} px, lens {lens_mm} mm")
        if matrix_world is not None:
            matrix_world = np.asarray(matrix_world, dtype=np.float64)
            if matrix_world.shape != (4, 4):
                raise ValueError(f"matrix_world must be 4x4, got {matrix_world.shape}")
            cam_to_world = matrix_world[:3, :3] / np.linalg.norm(matrix_world[:3, :3], axis=0)
            position = matrix_world[:3, 3]
        else:
            cam_to_world = euler_xyz_to_matrix(rotation_euler)
            position = np.asarray(location, dtype=np.float64)

        if sensor_fit == "VERTICAL" or (sensor_fit == "AUTO" and height > width):
            fit_pixels = float(height)
        else:
            fit_pixels = float(width)
        sensor_mm = sensor_height_mm if sensor_fit == "VERTICAL" else sensor_width_mm
        focal = lens_mm / sensor_mm * fit_pixels
        rotation = cam_to_world.T
        return cls(
            fx=focal,
            fy=focal,
            cx=width / 2.0 - shift_x * fit_pixels,
            cy=height / 2.0 + shift_y * fit_pixels,
            width=int(width),
            height=int(height),
            rotation=rotation,
            translation=-rotation @ position,
        )

    @property
    def position(self) -> np.ndarray:
        """Camera centre in world coordinates."""
        return -self.rotation.T @ self.translation

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """World points (N, 3) in camera space (N, 3) (−Z forward, +Y up)."""
        return np.asarray(points_world, dtype=np.float64) @ self.rotation.T + self.translation

    def depth(self, points_world: np.ndarray) -> np.ndarray:
        """Planar depth (N,): distance along the view axis, as the Cycles Z pass reports it."""
        return -self.to_camera(points_world)[:, 2]

    def project(self, points_world: np.ndarray) -> np.ndarray:
        """Pixel coordinates (N, 2) of world points (x right, y down); NaN for points not in front."""
        cam = self.to_camera(points_world)
        depth = -cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(depth > 0, 1.0 / depth, np.nan)
        return np.stack([self.cx + self.fx * cam[:, 0] * inv, self.cy - self.fy * cam[:, 1] * inv], axis=1)

    def pixel_centers(self) -> np.ndarray:
        """(H, W, 2) coordinates of every pixel centre, (x + 0.5, y + 0.5)."""
        xs = np.arange(self.width) + 0.5
        ys = np.arange(self.height) + 0.5
        grid_x, grid_y = np.meshgrid(xs, ys)
        return np.stack([grid_x, grid_y], axis=2)


@dataclass(frozen=True)
class CameraSpec:
    """A perspective camera as Blender describes it (sensor fit AUTO, square pixels)."""

    lens_mm: float
    sensor_width_mm: float
    location: tuple[float, float, float]
    rotation_euler: tuple[float, float, float]  # 'XYZ', radians
    clip_start: float
    clip_end: float

    @property
    def rotation_matrix(self) -> np.ndarray:
        """Camera-to-world rotation (3, 3): columns are the camera's x, y, z axes in world space."""
        return euler_xyz_to_matrix(self.rotation_euler)

    @property
    def matrix_world(self) -> np.ndarray:
        """Camera-to-world 4×4 matrix, as Blender's ``camera.matrix_world``."""
        matrix = np.eye(4)
        matrix[:3, :3] = self.rotation_matrix
        matrix[:3, 3] = self.location
        return matrix

    @property
    def forward(self) -> np.ndarray:
        """Unit viewing direction in world space (the camera's −Z axis)."""
        return -self.rotation_matrix[:, 2]

    def pinhole(self, width: int, height: int) -> PinholeCamera:
        """The projection Blender renders with at ``width``×``height`` pixels."""
        return PinholeCamera.from_blender(self.location, self.rotation_euler, self.lens_mm, self.sensor_width_mm, width, height)

    def record(self, width: int, height: int) -> dict:
        """Intrinsics and extrinsics of this camera rendering ``width``×``height``, in Blender's and OpenCV's axis
        conventions (the metadata's ``camera``)."""
        camera = self.pinhole(width, height)
        world_to_camera = np.eye(4)
        world_to_camera[:3, :3], world_to_camera[:3, 3] = camera.rotation, camera.translation
        flip = np.diag([1.0, -1.0, -1.0, 1.0])  # Blender camera (−Z forward, +Y up) → OpenCV (+Z forward, +Y down)
        return {
            "width": camera.width,
            "height": camera.height,
            "fx": camera.fx,
            "fy": camera.fy,
            "cx": camera.cx,
            "cy": camera.cy,
            "K": [[camera.fx, 0.0, camera.cx], [0.0, camera.fy, camera.cy], [0.0, 0.0, 1.0]],
            "pixel_convention": "pixel (x, y) has its centre at (x + 0.5, y + 0.5); x right, y down",
            "sensor_fit": "AUTO",
            "lens_mm": self.lens_mm,
            "sensor_width_mm": self.sensor_width_mm,
            "clip_start": self.clip_start,
            "clip_end": self.clip_end,
            "location": list(self.location),
            "rotation_euler_xyz": list(self.rotation_euler),
            "world_to_camera_blender": world_to_camera.tolist(),
            "world_to_camera_opencv": (flip @ world_to_camera).tolist(),
        }

    def to_json(self) -> dict:
        data = asdict(self)
        data["matrix_world"] = self.matrix_world.tolist()
        return data

    @classmethod
    def from_json(cls, data: dict, source: str = "camera") -> CameraSpec:
        try:
            return cls(
                lens_mm=float(data["lens_mm"]),
                sensor_width_mm=float(data.get("sensor_width_mm", 36.0)),
                location=_triple(data["location"]),
                rotation_euler=_triple(data["rotation_euler"]),
                clip_start=float(data.get("clip_start", 0.01)),
                clip_end=float(data.get("clip_end", 100.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AppearanceError(f"{source}: invalid camera description ({exc!r})") from None


def _triple(values) -> tuple[float, float, float]:
    out = tuple(float(v) for v in values)
    if len(out) != 3 or not all(np.isfinite(out)):
        raise ValueError(f"expected 3 finite numbers, got {values!r}")
    return out  # type: ignore[return-value]
