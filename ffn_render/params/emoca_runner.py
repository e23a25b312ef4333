"""Run EMOCA on a folder of images, writing the output layout :mod:`.emoca` imports.

This is a convenience for machines where EMOCA is installed; the pipeline
never needs it, because EMOCA's own demo (``demos/test_emoca_on_images.py
--save_codes True``) writes the same layout. EMOCA lives in the ``gdl``
package of https://github.com/radekd91/emoca (installed with its conda
environment and ``pip install -e .``), needs its licence-gated FLAME and
EMOCA model downloads, and a CUDA GPU (its test step moves images to
``cuda``). None of that is available where the tests run, so only the
"not installed" path is tested.

For every image (subfolders included), EMOCA detects faces (FAN), crops the
first to 224², regresses FLAME 2020 coefficients and :func:`run_emoca`
writes ``OUT/<subfolder>/<image stem>00/{shape,exp,pose}.npy`` (100, 50, 6
values) — the folder names EMOCA's demo uses for a detection, so
``ffn-render params emoca OUT --affectnet CSV`` matches them to AffectNet
rows by image stem. (The demo itself writes ``OUT/<model name>/<name>/``,
and for an image without a face a folder named after the image name's first
character, which the importer skips.)
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import ParamsError
from ..fileio import atomic_path

log = logging.getLogger(__name__)

EMOCA_INSTALL_HINT = (
    "install EMOCA from https://github.com/radekd91/emoca (its conda environment, `pip install -e .`, "
    "and its FLAME/EMOCA model downloads), or run its demos/test_emoca_on_images.py --save_codes True "
    "yourself and import the output with `ffn-render params emoca`"
)
DEFAULT_EMOCA_MODEL = "EMOCA_v2_lr_mse_20"


IMAGE_SUFFIXES = (".jpg", ".png", ".bmp")  # what EMOCA's TestData reads


def find_images(images_dir: Path) -> list[Path]:
    """Every image under ``images_dir``, subfolders included (AffectNet keeps its images in numbered folders)."""
    return sorted(p for p in images_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def run_emoca(
    images_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    models_dir: str | os.PathLike | None = None,
    model_name: str = DEFAULT_EMOCA_MODEL,
    progress: bool = True,
) -> int:
    """Reconstruct the first face of every image under ``images_dir`` with EMOCA; return the number written.

    EMOCA's ``TestData`` globs only a folder's top level, so the images are
    found here (recursively) and passed to it as a list. With
    ``max_detection`` set, ``TestData`` names a found face ``<stem>00`` and
    falls back to the whole, uncropped image — under the bare stem — when it
    finds none; those images are skipped, not reconstructed. Output goes to
    ``OUT/<subfolder>/<stem>00/`` mirroring the input tree. ``models_dir``
    defaults to EMOCA's ``assets/EMOCA/models`` beside the installed ``gdl``
    package. Raises :class:`ParamsError` when EMOCA cannot be imported or no
    image is found.
    """
    images_dir, out_dir = Path(images_dir), Path(out_dir)
    if not images_dir.is_dir():
        raise ParamsError(f"{images_dir}: image folder not found")
    try:
        gdl = importlib.import_module("gdl")
        load_model = importlib.import_module("gdl_apps.EMOCA.utils.load").load_model
        emoca_test = importlib.import_module("gdl_apps.EMOCA.utils.io").test
        TestData = importlib.import_module("gdl.datasets.ImageTestDataset").TestData
    except ImportError as exc:
        raise ParamsError(f"{images_dir}: EMOCA is not importable ({exc}); {EMOCA_INSTALL_HINT}") from None
    images = find_images(images_dir)
    if not images:
        raise ParamsError(f"{images_dir}: no {'/'.join(IMAGE_SUFFIXES)} images found (subfolders included)")

    models_dir = Path(models_dir) if models_dir is not None else Path(gdl.__file__).parents[1] / "assets" / "EMOCA" / "models"
    emoca, _ = load_model(str(models_dir), model_name, "detail")
    emoca.cuda()
    emoca.eval()
    dataset = TestData([str(path) for path in images], face_detector="fan", max_detection=1)
    written = no_face = 0
    for index in tqdm(range(len(dataset)), desc="EMOCA", unit="image", disable=None if progress else True):
        batch = dataset[index]
        names = batch.get("image_name")
        if "image" not in batch or isinstance(names, str):  # no face: EMOCA's whole-image fallback
            log.warning("%s: no face detected; skipped", images[index])
            no_face += 1
            continue
        codes, _ = emoca_test(emoca, batch)
        folder = out_dir / images[index].parent.relative_to(images_dir)
        _save_codes(folder / names[0], codes, 0)
        written += 1
    log.info("EMOCA wrote %d faces into %s (%d images without a face skipped)", written, out_dir, no_face)
    return written


def _save_codes(folder: Path, codes: dict, face: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, key in (("shape.npy", "shapecode"), ("exp.npy", "expcode"), ("pose.npy", "posecode")):
        values = codes[key]
        values = values[face] if values.ndim > 1 else values
        with atomic_path(folder / file_name) as tmp:
            np.save(tmp, values.detach().cpu().numpy().astype(np.float32))
