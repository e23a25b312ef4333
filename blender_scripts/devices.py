"""Choose the Cycles compute device.

``auto`` takes the best GPU back-end present (OptiX, then CUDA, HIP, Metal,
oneAPI) and falls back to the CPU when there is none. Naming a back-end
explicitly is a promise the machine has it: if it has no such device the
request is refused with an error rather than silently rendering on the CPU
(use ``auto`` for "GPU if there is one").

When a GPU renders, the CPU device is switched off: Cycles lists the CPU
among the devices of every GPU type, and leaving it on makes the CPU share
tiles with the GPU, which slows GPU renders down.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy

DEVICE_CHOICES = ("auto", "cpu", "cuda", "optix", "hip", "metal", "oneapi")
GPU_PREFERENCE = ("OPTIX", "CUDA", "HIP", "METAL", "ONEAPI")
DENOISERS = {"oidn": "OPENIMAGEDENOISE", "optix": "OPTIX"}  # render config name → Cycles denoiser


class DeviceError(Exception):
    """The requested device does not exist on this machine."""


@dataclass(frozen=True)
class DeviceChoice:
    requested: str  # as asked: auto, cpu, cuda, ...
    backend: str  # NONE (CPU) or a Cycles compute_device_type
    devices: tuple[str, ...]  # names of the devices switched on

    @property
    def is_gpu(self) -> bool:
        return self.backend != "NONE"

    def to_json(self) -> dict:
        return {"requested": self.requested, "backend": self.backend, "devices": list(self.devices)}


def _cycles_preferences():
    return bpy.context.preferences.addons["cycles"].preferences


def _gpus_of(prefs, backend: str) -> list:
    """The GPU devices of ``backend`` (empty if this build or machine lacks it)."""
    try:
        prefs.compute_device_type = backend
    except TypeError:  # back-end not compiled into this build (e.g. METAL on Linux)
        return []
    return [d for d in prefs.get_devices_for_type(backend) if d.type == backend]


def configure_device(scene, requested: str, prefs=None) -> DeviceChoice:
    """Switch ``scene`` to the requested device; raise :class:`DeviceError` if it is absent.

    ``prefs``: Cycles' add-on preferences (the running Blender's by default).
    """
    requested = requested.lower()
    if requested not in DEVICE_CHOICES:
        raise DeviceError(f"unknown device {requested!r} (choose one of {', '.join(DEVICE_CHOICES)})")
    prefs = _cycles_preferences() if prefs is None else prefs
    if requested == "cpu":
        candidates: tuple[str, ...] = ()
    elif requested == "auto":
        candidates = GPU_PREFERENCE
    else:
        candidates = (requested.upper(),)

    for backend in candidates:
        gpus = _gpus_of(prefs, backend)
        if gpus:
            chosen = {d.as_pointer() for d in gpus}
            for device in prefs.devices:
                device.use = device.as_pointer() in chosen
            scene.cycles.device = "GPU"
            return DeviceChoice(requested, backend, tuple(d.name for d in gpus))
    if requested not in ("auto", "cpu"):
        raise DeviceError(
            f"device {requested!r} requested but this machine has no {requested.upper()} device "
            f"(use --device auto to take a GPU when present and the CPU otherwise)"
        )
    prefs.compute_device_type = "NONE"
    scene.cycles.device = "CPU"
    cpus = [d.name for d in prefs.get_devices_for_type("CPU")]
    return DeviceChoice(requested, "NONE", tuple(cpus))


def choose_denoiser(requested: str, backend: str) -> str | None:
    """The Cycles denoiser for beauty renders on ``backend`` (None: no denoising).

    ``auto`` is OptiX's denoiser on an OptiX device (it runs there, beside the
    render) and OpenImageDenoise everywhere else; the OptiX denoiser needs an
    OptiX device.
    """
    if requested == "none":
        return None
    if requested == "auto":
        return "OPTIX" if backend == "OPTIX" else "OPENIMAGEDENOISE"
    if requested not in DENOISERS:
        raise DeviceError(f"unknown denoiser {requested!r} (choose one of auto, {', '.join(DENOISERS)}, none)")
    if requested == "optix" and backend != "OPTIX":
        raise DeviceError(f"the OptiX denoiser needs an OptiX device, rendering on {backend}")
    return DENOISERS[requested]
