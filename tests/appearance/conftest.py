import pytest

from .sphere_head import sphere_head


@pytest.fixture(scope="session")
def head():
    """The sphere test head (ellipsoid skull + two eyeballs) with a hand-made UV layout."""
    return sphere_head()


@pytest.fixture(scope="session")
def builtin():
    """The built-in ffn-head."""
    from ffn_render.facemodel import load_face_model

    return load_face_model("ffn-head")
