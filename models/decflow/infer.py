"""``decflow infer``: facial, head and expression flow for an image pair, a folder of frames or a video.

For each consecutive pair (frame k → frame k+1) it writes
``OUT/{facial,head,expression}/{name}.flo`` and a colour-wheel ``{name}.png``
beside it, ``name`` being the first frame's file stem (or its 1-based
number in a video). A one-decoder (GMA) checkpoint writes facial flow only.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ffn_render.faces import read_rgb
from ffn_render.fileio import atomic_path
from ffn_render.labels.flo import write_flo

from .decflow import DecFlow
from .errors import DecFlowError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


def _video_frames(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DecFlowError(f"{path}: cannot open video")
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            index += 1
            yield f"{index:04d}", cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if index < 2:
        raise DecFlowError(f"{path}: video has {index} readable frames, need at least 2")


def frames_from_inputs(inputs: list[Path]) -> Iterator[tuple[str, np.ndarray]]:
    """(name, RGB frame) in order, from two or more image files, one folder of images, or one video."""
    if not inputs:
        raise DecFlowError("no input given: pass two images, a folder of frames or a video")
    for path in inputs:
        if not path.exists():
            raise DecFlowError(f"{path}: input not found")
    if len(inputs) == 1 and inputs[0].is_dir():
        files = sorted(p for p in inputs[0].iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(files) < 2:
            raise DecFlowError(f"{inputs[0]}: folder holds {len(files)} images, need at least 2")
        return ((p.stem, read_rgb(p, DecFlowError)) for p in files)
    if len(inputs) == 1 and inputs[0].suffix.lower() in VIDEO_SUFFIXES:
        return _video_frames(inputs[0])
    if len(inputs) == 1:
        raise DecFlowError(f"{inputs[0]}: a single input must be a folder of frames or a video ({', '.join(sorted(VIDEO_SUFFIXES))})")
    for path in inputs:
        if path.is_dir() or path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DecFlowError(f"{path}: expected an image file ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return ((p.stem, read_rgb(p, DecFlowError)) for p in inputs)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG")


@torch.no_grad()
def infer(
    model: DecFlow,
    inputs: list[str | os.PathLike],
    out_dir: str | os.PathLike,
    iters: int = 32,
    device: torch.device | str = "cpu",
    max_flow: float | None = None,
) -> int:
    """Write flows and colour-wheel images for every consecutive pair; return the number of pairs."""
    from ffn_render.labels.colorwheel import flow_to_rgb  # imported late: optional for the rest of the package

    out = Path(out_dir)
    model.to(device).eval()
    kinds = ("facial", "head", "expression") if model.decompose else ("facial",)
    previous: tuple[str, np.ndarray] | None = None
    pairs = 0
    for name, frame in tqdm(frames_from_inputs([Path(p) for p in inputs]), desc="infer", unit="frame"):
        if previous is not None:
            first_name, first = previous
            if first.shape != frame.shape:
                raise DecFlowError(
                    f"{name}: frame is {frame.shape[1]}x{frame.shape[0]} but {first_name} is "
                    f"{first.shape[1]}x{first.shape[0]}; the images of a pair must have one size"
                )
            image1 = torch.from_numpy(first.copy()).permute(2, 0, 1)[None].float().to(device)
            image2 = torch.from_numpy(frame.copy()).permute(2, 0, 1)[None].float().to(device)
            predictions = model(image1, image2, iters=iters, all_iterations=False)
            flows = {"facial": predictions.facial[-1]}
            if model.decompose:
                flows["head"] = predictions.head[-1]
                flows["expression"] = flows["facial"] - flows["head"]
            for kind in kinds:
                flow = flows[kind][0].permute(1, 2, 0).cpu().numpy().astype(np.float32)
                write_flo(out / kind / f"{first_name}.flo", flow)
                _write_png(out / kind / f"{first_name}.png", flow_to_rgb(flow, max_flow))
            pairs += 1
        previous = (name, frame)
    log.info("wrote %d pairs of %s flow to %s", pairs, "/".join(kinds), out)
    return pairs
