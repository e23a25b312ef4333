"""Shared fixtures for render tests."""

from __future__ import annotations

import pytest

from tests.render.support import jaw_head


@pytest.fixture(scope="session")
def head(tmp_path_factory):
    """(model, path of its .npz) of the jaw test head."""
    return jaw_head(tmp_path_factory.mktemp("head"))
