"""The SPEC-only loader (tests/helpers) reads every pair of a synthetic dataset with the right truth."""

import numpy as np

from tests.dataset.conftest import SEQUENCES
from tests.helpers.spec_loader import iter_spec_pairs
from tests.helpers.synthetic_dataset import write_synthetic_dataset


def test_spec_loader_reads_every_pair_with_known_motion(tmp_path):
    truths = write_synthetic_dataset(tmp_path, SEQUENCES, image_ext=".png")  # lossless: exact warping check
    pairs = list(iter_spec_pairs(tmp_path))
    assert len(pairs) == sum(s.n - 1 for s in truths)
    by_seq = {s.seq: s for s in truths}
    for pair in pairs:
        truth = by_seq[pair.seq]
        square = truth.square_mask(truth.facial_position(pair.t))
        np.testing.assert_array_equal(pair.mask, square)
        for flow, motion in ((pair.flow_facial, truth.facial_flow), (pair.flow_head, truth.head_flow)):
            np.testing.assert_array_equal(flow[square == 1], np.broadcast_to(motion, (int(square.sum()), 2)))
            assert np.all(flow[square == 0] == 0)
        # Following the flow from I_t^f lands every square pixel on the same colour in the second image.
        ys, xs = np.nonzero(square)
        for image2, motion in ((pair.image2_facial, truth.facial_flow), (pair.image2_head, truth.head_flow)):
            np.testing.assert_array_equal(image2[ys + motion[1], xs + motion[0]], pair.image1[ys, xs])
