"""Face models in FLAME's layout: safe file loading, LBS forward pass, the built-in head."""

from .loader import BUILTIN_NAME, FaceModelRef, face_model_from_arrays, face_model_to_arrays, load_face_model
from .model import JOINT_NAMES, POSE_SIZE, FaceModel

__all__ = [
    "BUILTIN_NAME",
    "FaceModel",
    "FaceModelRef",
    "JOINT_NAMES",
    "POSE_SIZE",
    "face_model_from_arrays",
    "face_model_to_arrays",
    "load_face_model",
]
