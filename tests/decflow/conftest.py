"""Shared settings of the DecFlow tests."""

from __future__ import annotations

from typing import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread: on a small shared CPU, OpenMP threads spin-waiting on busy cores
    made training steps ~10× slower than one thread (measured on the 2-core test machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
