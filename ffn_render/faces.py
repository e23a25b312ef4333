"""Face detection, 68 landmarks and identity descriptors with dlib (SPEC §9).

One place for the face-analysis models every stage uses: parameter fitting
(landmarks), the identity instrument (descriptors) and DecFlow's real-face
evaluation (landmarks on frames without point files). The models ship inside
the ``face_recognition_models`` package, so nothing is downloaded.

Landmarks follow the iBUG 300-W 68-point scheme and the project's pixel
convention (SPEC §3): the centre of pixel (column x, row y) is at
(x + 0.5, y + 0.5). dlib reports integer pixel indices (pixel centre at the
integer), so its points are shifted by +0.5 here, and back on the way in.

Descriptors are dlib's 128-d ResNet face descriptor; a Euclidean distance
below :data:`SAME_PERSON_DISTANCE` means "same person" in dlib's convention.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import FFNError

SAME_PERSON_DISTANCE = 0.6
N_LANDMARKS = 68
# The 68-point scheme's regions (0-based, iBUG 300-W), as the paper's Figure 7 groups them.
LANDMARK_REGIONS = {
    "jaw": tuple(range(0, 17)),
    "brows": tuple(range(17, 27)),
    "nose": tuple(range(27, 36)),
    "eyes": tuple(range(36, 48)),
    "mouth": tuple(range(48, 68)),
}
_MODEL_FILES = {
    "landmarks": "shape_predictor_68_face_landmarks.dat",
    "descriptor": "dlib_face_recognition_resnet_model_v1.dat",
    "cnn_detector": "mmod_human_face_detector.dat",
}
_INSTALL_HINT = "pip install dlib-bin face_recognition_models (or: pip install 'ffn_render[faces]')"


class FaceError(FFNError):
    """A face could not be found or analysed, or the face models are missing."""


@dataclass(frozen=True)
class Face:
    """One detected face: its box (left, top, right, bottom) in pixels and 68 landmarks (68×2, x right, y down)."""

    box: tuple[int, int, int, int]
    landmarks: np.ndarray

    @property
    def area(self) -> int:
        left, top, right, bottom = self.box
        return max(right - left, 0) * max(bottom - top, 0)


def _dlib():
    try:
        import dlib
    except ImportError as exc:
        raise FaceError(f"face analysis needs dlib, which is not installed: {_INSTALL_HINT}") from exc
    return dlib


def model_path(kind: str) -> Path:
    """Path of one of the dlib model files shipped in ``face_recognition_models``."""
    # Located without importing the package: its __init__ needs pkg_resources, gone from new setuptools.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceError(f"face analysis needs the dlib model files, which are not installed: {_INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / _MODEL_FILES[kind]
    if not path.is_file():
        raise FaceError(f"{path}: dlib model file missing; reinstall face_recognition_models")
    return path


class FaceAnalyzer:
    """dlib's detector, 68-point shape predictor and descriptor network, loaded on first use."""

    def __init__(self, detector: str = "hog", upsample: int = 1) -> None:
        if detector not in ("hog", "cnn"):
            raise FaceError(f"face detector must be 'hog' or 'cnn', not {detector!r}")
        self.detector_kind = detector
        self.upsample = upsample

    @functools.cached_property
    def _detector(self):
        dlib = _dlib()
        if self.detector_kind == "cnn":
            return dlib.cnn_face_detection_model_v1(str(model_path("cnn_detector")))
        return dlib.get_frontal_face_detector()

    @functools.cached_property
    def _predictor(self):
        return _dlib().shape_predictor(str(model_path("landmarks")))

    @functools.cached_property
    def _descriptor_net(self):
        return _dlib().face_recognition_model_v1(str(model_path("descriptor")))

    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces in an 8-bit RGB image (H×W×3), largest first."""
        image = _as_rgb8(image)
        rects = self._detector(image, self.upsample)
        if self.detector_kind == "cnn":
            rects = [r.rect for r in rects]
        faces = [self._landmarks(image, rect) for rect in rects]
        return sorted(faces, key=lambda face: face.area, reverse=True)

    def detect_one(self, image: np.ndarray, source: str | os.PathLike) -> Face:
        """The largest face in ``image``; a :class:`FaceError` naming ``source`` when there is none."""
        faces = self.detect(image)
        if not faces:
            raise FaceError(f"{source}: no face found")
        return faces[0]

    def _landmarks(self, image: np.ndarray, rect) -> Face:
        shape = self._predictor(image, rect)
        points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64) + 0.5
        return Face(box=(rect.left(), rect.top(), rect.right(), rect.bottom()), landmarks=points)

    def descriptor(self, image: np.ndarray, face: Face) -> np.ndarray:
        """dlib's 128-d identity descriptor of ``face`` in ``image``."""
        dlib = _dlib()
        image = _as_rgb8(image)
        left, top, right, bottom = face.box
        points = [dlib.point(int(round(x - 0.5)), int(round(y - 0.5))) for x, y in face.landmarks]
        shape = dlib.full_object_detection(dlib.rectangle(left, top, right, bottom), points)
        return np.asarray(self._descriptor_net.compute_face_descriptor(image, shape), dtype=np.float64)


@functools.lru_cache(maxsize=2)
def default_analyzer(detector: str = "hog") -> FaceAnalyzer:
    """One shared analyser per process and detector kind (the models take ~1 s to load)."""
    return FaceAnalyzer(detector)


def _as_rgb8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise FaceError(f"face analysis needs an 8-bit RGB image (H×W×3 uint8), got {image.shape} {image.dtype}")
    return np.ascontiguousarray(image)


def read_rgb(path: str | os.PathLike, error: type[FFNError] = FaceError) -> np.ndarray:
    """An image file as 8-bit RGB; an ``error`` (the calling stage's type) naming the file when it cannot be read."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError as exc:
        raise error(f"{path}: no such image file") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise error(f"{path}: not a readable image ({exc.__class__.__name__})") from exc


def descriptor_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two descriptors (< 0.6: the same person to dlib)."""
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
