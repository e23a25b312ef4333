import pytest

from tests.helpers.synthetic_dataset import write_synthetic_dataset

SEQUENCES = [("train", "happy", "seq0000", 4), ("train", "none", "seq0001", 3), ("val", "contempt", "seq0002", 2)]


@pytest.fixture
def synthetic_root(tmp_path):
    """A small contract-correct dataset: (root, list of SyntheticSequence truths)."""
    root = tmp_path / "ds"
    return root, write_synthetic_dataset(root, SEQUENCES)
