"""Device and denoiser selection (blender_scripts/devices.py), GPU branches included, on a CPU-only machine.

Cycles' add-on preferences are replaced by a stand-in that lists the devices
of a machine with GPUs, the way Blender lists them: every GPU type's list
holds the CPU too (SPEC §4), and asking for a back-end the build lacks is a
TypeError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from blender_scripts.devices import DeviceError, choose_denoiser, configure_device


@dataclass
class Device:
    name: str
    type: str
    use: bool = True

    def as_pointer(self) -> int:
        return id(self)


@dataclass
class Preferences:
    """Cycles preferences of a machine whose GPUs are ``gpus`` (type → names); builds know only ``compiled``."""

    gpus: dict[str, list[str]]
    compiled: tuple[str, ...] = ("NONE", "CUDA", "OPTIX", "HIP", "ONEAPI")
    devices: list[Device] = field(default_factory=list)
    _type: str = "NONE"

    def __post_init__(self) -> None:
        self.cpu = Device("AMD EPYC", "CPU")
        self.devices = [self.cpu] + [Device(name, kind) for kind, names in self.gpus.items() for name in names]

    @property
    def compute_device_type(self) -> str:
        return self._type

    @compute_device_type.setter
    def compute_device_type(self, value: str) -> None:
        if value not in self.compiled:
            raise TypeError(f"enum {value!r} not found")
        self._type = value

    def get_devices_for_type(self, kind: str) -> list[Device]:
        return [self.cpu] + [d for d in self.devices if d.type == kind and kind != "CPU"]


def scene() -> SimpleNamespace:
    return SimpleNamespace(cycles=SimpleNamespace(device="CPU"))


def test_auto_prefers_optix_and_switches_the_cpu_off():
    prefs, target = Preferences({"CUDA": ["H100"], "OPTIX": ["H100"]}), scene()
    choice = configure_device(target, "auto", prefs)
    assert (choice.backend, choice.devices, choice.is_gpu) == ("OPTIX", ("H100",), True)
    assert target.cycles.device == "GPU" and prefs.compute_device_type == "OPTIX"
    assert not prefs.cpu.use
    assert [d.use for d in prefs.devices if d.type == "OPTIX"] == [True]
    assert [d.use for d in prefs.devices if d.type == "CUDA"] == [False]


def test_named_backend_is_used_when_present():
    prefs, target = Preferences({"CUDA": ["A100", "A100"]}), scene()
    choice = configure_device(target, "cuda", prefs)
    assert choice.backend == "CUDA" and len(choice.devices) == 2 and not prefs.cpu.use
    assert target.cycles.device == "GPU"


@pytest.mark.parametrize("requested", ["optix", "metal"])
def test_named_backend_that_is_absent_is_refused(requested):
    """No silent CPU fallback: OptiX absent on a CUDA-only machine, Metal not compiled into a Linux build."""
    with pytest.raises(DeviceError, match=f"no {requested.upper()} device.*--device auto"):
        configure_device(scene(), requested, Preferences({"CUDA": ["T4"]}, compiled=("NONE", "CUDA", "OPTIX")))


def test_auto_without_gpus_renders_on_the_cpu():
    prefs, target = Preferences({}), scene()
    choice = configure_device(target, "auto", prefs)
    assert (choice.backend, choice.is_gpu, choice.devices) == ("NONE", False, ("AMD EPYC",))
    assert target.cycles.device == "CPU" and prefs.compute_device_type == "NONE"


def test_cpu_is_chosen_even_with_gpus_present():
    prefs, target = Preferences({"OPTIX": ["L40S"]}), scene()
    assert configure_device(target, "cpu", prefs).backend == "NONE"
    assert target.cycles.device == "CPU"


@pytest.mark.parametrize(
    ("requested", "backend", "denoiser"),
    [("auto", "OPTIX", "OPTIX"), ("auto", "CUDA", "OPENIMAGEDENOISE"), ("auto", "NONE", "OPENIMAGEDENOISE"),
     ("oidn", "OPTIX", "OPENIMAGEDENOISE"), ("optix", "OPTIX", "OPTIX"), ("none", "OPTIX", None)],
)
def test_denoiser_follows_the_device(requested, backend, denoiser):
    assert choose_denoiser(requested, backend) == denoiser


def test_optix_denoiser_needs_an_optix_device():
    with pytest.raises(DeviceError, match="OptiX denoiser needs an OptiX device, rendering on CUDA"):
        choose_denoiser("optix", "CUDA")
