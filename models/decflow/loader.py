"""Iterating a DataLoader of FFN pairs, for training and evaluation alike."""

from __future__ import annotations

from typing import Iterator

import torch

from ffn_render.errors import DatasetError


def iterate_batches(loader: torch.utils.data.DataLoader) -> Iterator[dict[str, torch.Tensor]]:
    """Iterate a loader, turning a worker's DatasetError (re-raised with its traceback) back into one line."""
    iterator = iter(loader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except DatasetError as exc:
            lines = [line for line in str(exc).strip().splitlines() if line.strip()]
            raise DatasetError(lines[-1].split("DatasetError: ", 1)[-1]) from None
        yield batch
