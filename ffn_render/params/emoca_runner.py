"""Run EMOCA on a folder of images, writing the output layout :mod:`.emoca` imports.

This is a convenience for machines where EMOCA is installed; the pipeline
never needs it, because EMOCA's own demo (``demos/test_emoca_on_images.py
--save_codes True``) writes the same layout. EMOCA lives in the ``gdl``
package of https://github.com/radekd91/emoca (installed with its conda
environment and ``pip install -e .``), needs its licence-gated FLAME and
EMOCA model downloads, and a CUDA GPU (its test step moves images to
``cuda``). None of that is available where the tests run, so only the
"not installed" path is tested.

For every image, EMOCA detects faces (FAN), crops them to 224², regresses
FLAME coefficients and :func:`run_emoca` writes, per detected face,
``OUT/<image stem><NN>/{shape,exp,pose}.npy`` (100, 50, 6 values) — the
same names EMOCA's demo uses, so ``ffn-render params emoca OUT --affectnet
CSV`` matches them to AffectNet rows by image stem.
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


def run_emoca(
    images_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    models_dir: str | os.PathLike | None = None,
    model_name: str = DEFAULT_EMOCA_MODEL,
    progress: bool = True,
) -> int:
    """Reconstruct every face in ``images_dir`` with EMOCA; return the number of faces written.

    ``models_dir`` defaults to EMOCA's ``assets/EMOCA/models`` beside the
    installed ``gdl`` package. Raises :class:`ParamsError` when EMOCA cannot
    be imported.
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

    models_dir = Path(models_dir) if models_dir is not None else Path(gdl.__file__).parents[1] / "assets" / "EMOCA" / "models"
    emoca, _ = load_model(str(models_dir), model_name, "detail")
    emoca.cuda()
    emoca.eval()
    dataset = TestData(str(images_dir), face_detector="fan")
    written = 0
    for index in tqdm(range(len(dataset)), desc="EMOCA", unit="image", disable=None if progress else True):
        batch = dataset[index]
        if "image" not in batch:  # newer EMOCA returns only the original image when no face is found
            log.warning("%s: no face detected", batch.get("image_path"))
            continue
        codes, _ = emoca_test(emoca, batch)
        names = batch["image_name"]
        names = [names] if isinstance(names, str) else list(names)
        for face, name in enumerate(names):
            _save_codes(out_dir / name, codes, face)
            written += 1
    log.info("EMOCA wrote %d faces into %s", written, out_dir)
    return written


def _save_codes(folder: Path, codes: dict, face: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, key in (("shape.npy", "shapecode"), ("exp.npy", "expcode"), ("pose.npy", "posecode")):
        values = codes[key]
        values = values[face] if values.ndim > 1 else values
        with atomic_path(folder / file_name) as tmp:
            np.save(tmp, values.detach().cpu().numpy().astype(np.float32))
