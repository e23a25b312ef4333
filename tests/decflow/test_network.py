"""DecFlow's network pieces against independent truth: shapes, layouts, brute-force correlation, convex upsampling."""

from __future__ import annotations

import pytest
import torch

from models.decflow import DecFlow, DecFlowError, gma_baseline
from models.decflow.corr import CorrBlock, coords_grid
from models.decflow.dad_encoder import DADEncoder
from models.decflow.decflow import upsample_convex
from models.decflow.padding import InputPadder

from .compat import key_shapes


@pytest.fixture(scope="module")
def decflow() -> DecFlow:
    torch.manual_seed(0)
    return DecFlow().eval()


@pytest.mark.parametrize("size", [(64, 72), (61, 75), (57, 64)])
def test_output_shapes_for_odd_sizes(decflow: DecFlow, size: tuple[int, int]) -> None:
    image1 = torch.rand(2, 3, *size) * 255
    image2 = torch.rand(2, 3, *size) * 255
    with torch.no_grad():
        out = decflow(image1, image2, iters=3)
    assert len(out.facial) == len(out.head) == 3
    for flow in out.facial + out.head + out.expression:
        assert flow.shape == (2, 2, *size)
    assert torch.equal(out.expression[-1], out.facial[-1] - out.head[-1])


def test_last_iteration_only_matches_full_run(decflow: DecFlow) -> None:
    image1, image2 = torch.rand(1, 3, 64, 72) * 255, torch.rand(1, 3, 64, 72) * 255
    with torch.no_grad():
        full = decflow(image1, image2, iters=2)
        last = decflow(image1, image2, iters=2, all_iterations=False, decoders=("head",))
    assert len(last.head) == 1 and not last.facial
    torch.testing.assert_close(last.head[0], full.head[-1])


def test_bad_inputs_are_rejected(decflow: DecFlow) -> None:
    with pytest.raises(DecFlowError, match="sizes differ"):
        decflow(torch.zeros(1, 3, 64, 72), torch.zeros(1, 3, 64, 80))
    with pytest.raises(DecFlowError, match="at least 1 refinement iteration"):
        decflow(torch.zeros(1, 3, 64, 72), torch.zeros(1, 3, 64, 72), iters=0)


def test_small_inputs_are_padded_so_the_coarsest_correlation_level_keeps_two_cells(decflow: DecFlow) -> None:
    """Unpadded, a 40×48 input has a 5×6 grid and a 0×0 coarsest level; padded to 128 it has 2×2."""
    image1, image2 = torch.rand(1, 3, 40, 48) * 255, torch.rand(1, 3, 40, 48) * 255
    with torch.no_grad():
        out = decflow(image1, image2, iters=2, all_iterations=False)
    assert out.facial[-1].shape == (1, 2, 40, 48) and torch.isfinite(out.facial[-1]).all()
    padder = InputPadder(40, 48)
    assert padder.pad(image1).shape[-2:] == (128, 128)
    assert (128 // 8) // 2 ** 3 == 2


def test_default_model_has_the_public_decflow_layout(decflow: DecFlow) -> None:
    expected = key_shapes("decflow_public_state_dict_keys.txt")
    actual = {k: tuple(v.shape) for k, v in decflow.state_dict().items()}
    assert actual == expected


def test_baseline_has_the_gma_layout() -> None:
    expected = {k.removeprefix("module."): v for k, v in key_shapes("gma_state_dict_keys.txt").items()}
    actual = {k: tuple(v.shape) for k, v in gma_baseline().state_dict().items()}
    assert actual == expected


def test_correlation_lookup_matches_brute_force() -> None:
    torch.manual_seed(1)
    dim, height, width, radius = 8, 6, 7, 2
    fmap1, fmap2 = torch.randn(1, dim, height, width), torch.randn(1, dim, height, width)
    corr = CorrBlock(fmap1, fmap2, num_levels=2, radius=radius)
    shift = torch.tensor([1.0, -1.0]).view(1, 2, 1, 1)  # look around (x+1, y-1)
    features = corr(coords_grid(1, height, width) + shift)
    side = 2 * radius + 1
    assert features.shape == (1, 2 * side * side, height, width)
    for y, x in [(2, 3), (0, 0), (5, 6)]:
        for ox in range(-radius, radius + 1):
            for oy in range(-radius, radius + 1):
                tx, ty = x + 1 + ox, y - 1 + oy
                inside = 0 <= tx < width and 0 <= ty < height
                truth = float(fmap1[0, :, y, x] @ fmap2[0, :, ty, tx]) / dim**0.5 if inside else 0.0
                # Level 0 channels: x offset is the slow index, y offset the fast one (GMA's order).
                channel = (ox + radius) * side + (oy + radius)
                assert features[0, channel, y, x].item() == pytest.approx(truth, abs=1e-5)


def test_convex_upsampling_with_a_peaked_mask_replicates_coarse_flow() -> None:
    flow = torch.randn(1, 2, 3, 4)
    mask = torch.full((1, 9 * 64, 3, 4), -1e4)
    mask.view(1, 9, 64, 3, 4)[:, 4] = 0.0  # all weight on the centre of the 3×3 neighbourhood
    up = upsample_convex(flow, mask)
    assert up.shape == (1, 2, 24, 32)
    expected = 8 * flow.repeat_interleave(8, dim=2).repeat_interleave(8, dim=3)
    torch.testing.assert_close(up, expected)


@pytest.mark.parametrize("placement", ["centre", "bottom"])
def test_padder_round_trip(placement: str) -> None:
    padder = InputPadder(131, 147, placement=placement)
    x = torch.arange(131 * 147, dtype=torch.float32).view(1, 1, 131, 147)
    padded = padder.pad(x)
    assert padded.shape[-2:] == (136, 152)
    assert torch.equal(padder.unpad(padded), x)
    # Width: 5 columns, 2 left and 3 right, in both placements (as the released InputPadder).
    assert torch.equal(padded[0, 0, :, :2], padded[0, 0, :, 2:3].expand(-1, 2))
    top = 0 if placement == "bottom" else 2  # the released evaluator ("exp" mode) pads all 5 rows at the bottom
    assert torch.equal(padded[0, 0, top : top + 131, 2 : 2 + 147], x[0, 0])


def test_padder_raises_small_sides_to_128() -> None:
    assert InputPadder(61, 75).pads == (26, 27, 33, 34)
    assert InputPadder(61, 75, placement="bottom").pads == (26, 27, 0, 67)


def test_semantic_trunk_is_pytorchcvs_resnet50_frozen() -> None:
    from pytorchcv.models.resnet import resnet50

    model = DecFlow()
    assert not any(p.requires_grad for p in model.dad_encoder.parameters())
    features = model.dad_encoder(torch.zeros(1, 3, 64, 72))
    assert features.shape == (1, 512, 8, 9)
    assert isinstance(model.dad_encoder, DADEncoder)
    # The trunk is pytorchcv's own resnet50 stem + stages 1-3: its keys and shapes, renamed features.X -> model.N.
    reference = {k: tuple(v.shape) for k, v in resnet50().state_dict().items()
                 if k.startswith(("features.init_block.", "features.stage1.", "features.stage2.", "features.stage3."))}
    renamed = {k.replace("features.init_block.", "model.0.").replace("features.stage1.", "model.1.")
               .replace("features.stage2.", "model.2.").replace("features.stage3.", "model.3."): v
               for k, v in reference.items()}
    assert {k: tuple(v.shape) for k, v in model.dad_encoder.state_dict().items()} == renamed
