import pytest

from .sphere_head import sphere_head


@pytest.fixture(scope="session")
def head():
    """The sphere test head (ellipsoid skull + two eyeballs) with a hand-made UV layout."""
    return sphere_head()
