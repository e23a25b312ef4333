"""Optional dependencies: which extra of the package installs which module, and the one-line
error a command gives when it needs one that is not installed.

The core (parameters, sequences, layout, verify, preview, labels IO) runs on
``pip install ffn_render``; rendering, training, cluster runs and face
analysis import their packages only when used (setup.cfg
``[options.extras_require]`` lists them).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator, NoReturn

import click

# top-level module → the extras that install it (setup.cfg), the usual one first
EXTRAS_OF_MODULE: dict[str, tuple[str, ...]] = {
    "bpy": ("render",),
    "OpenEXR": ("render",),
    "torch": ("render", "train"),
    "smplx": ("render", "train"),
    "torchvision": ("train",),
    "pytorchcv": ("train",),
    "tensorboard": ("train",),
    "cv2": ("train",),
    "joblib": ("cluster",),
    "submitit": ("cluster",),
    "dlib": ("faces",),
    "face_recognition_models": ("faces",),
}


def missing_extra_message(exc: ModuleNotFoundError, preferred: str | None = None) -> str | None:
    """The line telling which extra to install for ``exc``; None when no extra provides the module.

    ``preferred`` is suggested first when it provides the module (``decflow`` asks for ``train``).
    """
    module = (exc.name or "").partition(".")[0]
    extras = EXTRAS_OF_MODULE.get(module)
    if extras is None:
        return None
    if preferred in extras:
        extras = (preferred,) + tuple(e for e in extras if e != preferred)
    also = f" (also in {', '.join(f'[{e}]' for e in extras[1:])})" if len(extras) > 1 else ""
    return (f"this command needs the optional package {module!r}, which is not installed: "
            f"pip install 'ffn_render[{extras[0]}]'{also}, or 'ffn_render[all]' for everything")


def exit_for_missing_extra(exc: ModuleNotFoundError, preferred: str | None = None) -> NoReturn:
    """Print ``error: …`` naming the extra to install and exit with status 1; re-raise ``exc``
    when no extra provides the missing module (then it is a bug, and the traceback helps)."""
    message = missing_extra_message(exc, preferred)
    if message is None:
        raise exc
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@contextmanager
def missing_extra_exits(preferred: str | None = None) -> Iterator[None]:
    """Run the block; a missing optional package becomes :func:`exit_for_missing_extra`'s one line."""
    try:
        yield
    except ModuleNotFoundError as exc:
        exit_for_missing_extra(exc, preferred)
