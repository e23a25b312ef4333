"""The torchvision optical-flow dataset: items as torchvision's, checked against the files read by hand
(paths spelled from SPEC §2, a Middlebury reader written here) and a synthetic dataset of known motion;
then torchvision's RAFT-small trains on a dataset rendered by our renderer through it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets._optical_flow import FlowDataset
from torchvision.models.optical_flow import raft_small
from torchvision.transforms.v2 import functional as F

from ffn_render.dataset.torchvision import FacialFlowNet
from ffn_render.errors import DatasetError


def middlebury_flo(path: Path) -> np.ndarray:
    """(H, W, 2) from a .flo file: 'PIEH', int32 width, int32 height, then (u, v) float32 row by row."""
    data = path.read_bytes()
    assert data[:4] == b"PIEH"
    width, height = np.frombuffer(data[4:12], "<i4")
    return np.frombuffer(data[12:], "<f4").reshape(height, width, 2)


def spec_paths(root: Path, split: str, emotion: str, seq: str, t: int) -> dict[str, Path]:
    """The files of pair t, written out from SPEC §2."""
    rel = Path(split, emotion, seq)
    return {
        "image1": root / "image" / "facial" / rel / f"{t:04d}.jpg",
        "facial2": root / "image" / "facial" / rel / f"{t + 1:04d}.jpg",
        "head2": root / "image" / "head" / rel / f"{t + 1:04d}.jpg",
        "facial": root / "flow" / "facial" / rel / f"{t:04d}.flo",
        "head": root / "flow" / "head" / rel / f"{t:04d}.flo",
        "mask": root / "mask" / rel / f"{t:04d}.npy",
    }


def pixels(image) -> np.ndarray:
    return np.asarray(image)


def check_against_files(dataset: FacialFlowNet, root: Path, flow: str) -> None:
    """Every item equals the files of its pair read by hand."""
    for index, (key, t) in enumerate(dataset.pairs):
        img1, img2, flow_chw, valid = dataset[index]
        files = spec_paths(root, key.split, key.emotion, key.seq, t)
        assert isinstance(img1, Image.Image) and isinstance(img2, Image.Image)
        np.testing.assert_array_equal(pixels(img1), pixels(Image.open(files["image1"]).convert("RGB")))
        second = files["head2"] if flow == "head" else files["facial2"]
        np.testing.assert_array_equal(pixels(img2), pixels(Image.open(second).convert("RGB")))
        expected = {
            "facial": middlebury_flo(files["facial"]),
            "head": middlebury_flo(files["head"]),
            "expression": middlebury_flo(files["facial"]) - middlebury_flo(files["head"]),
        }[flow]
        assert flow_chw.dtype == np.float32 and flow_chw.shape == (2, *expected.shape[:2])
        np.testing.assert_array_equal(flow_chw, expected.transpose(2, 0, 1))
        assert valid.dtype == np.bool_
        np.testing.assert_array_equal(valid, np.load(files["mask"]) == 1)


# --- on the synthetic dataset of known motion (tests/dataset/conftest.py) -----------------------------

@pytest.mark.parametrize("flow", ["facial", "head", "expression"])
def test_items_are_the_pair_files(synthetic_root, flow):
    root, _ = synthetic_root
    dataset = FacialFlowNet(root, split="train", flow=flow)
    assert isinstance(dataset, FlowDataset)
    assert len(dataset) == 3 + 2  # train sequences of 4 and 3 frames
    check_against_files(dataset, root, flow)


def test_flows_are_the_known_motion_on_the_first_frames_square(synthetic_root):
    root, truths = synthetic_root
    truth = {seq.seq: seq for seq in truths}
    for flow in ("facial", "head", "expression"):
        dataset = FacialFlowNet(root, split="train", flow=flow)
        for (key, t), (_, _, flow_chw, valid) in zip(dataset.pairs, dataset):
            seq = truth[key.seq]
            square = seq.square_mask(seq.facial_position(t)) == 1
            np.testing.assert_array_equal(valid, square)
            motion = {"facial": seq.facial_flow, "head": seq.head_flow, "expression": seq.expression_motion}[flow]
            assert np.all(flow_chw[:, square] == np.array(motion, dtype=np.float32)[:, None])
            assert np.all(flow_chw[:, ~square] == 0)


def test_head_pairs_end_on_the_head_frame(synthetic_root):
    """FFN-H pair t ends on I_{t+1}^h: the square sits where the head flow moves it."""
    root, truths = synthetic_root
    seq = next(s for s in truths if s.seq == "seq0000")
    dataset = FacialFlowNet(root, split="train", flow="head")
    index = dataset.pairs.index(next(p for p in dataset.pairs if p[0].seq == "seq0000" and p[1] == 2))
    img1, img2, flow_chw, _ = dataset[index]
    x1, y1 = seq.facial_position(2)
    x2, y2 = seq.head_position(3)
    assert (x2 - x1, y2 - y1) == seq.head_flow
    a, b = pixels(img1).astype(int), pixels(img2).astype(int)
    # JPEG: the square's texture in img1 reappears shifted by the head flow in img2.
    assert np.abs(a[y1:y1 + 8, x1:x1 + 8] - b[y2:y2 + 8, x2:x2 + 8]).mean() < 8


def test_valid_all_marks_every_pixel_and_splits_are_separate(synthetic_root):
    root, _ = synthetic_root
    dataset = FacialFlowNet(root, split="val", flow="facial", valid="all")
    assert len(dataset) == 1 and dataset.pairs[0][0].emotion == "contempt"
    assert dataset[0][3].all()


def test_transforms_get_and_return_the_four_values(synthetic_root):
    root, _ = synthetic_root
    seen = []

    def transforms(img1, img2, flow, valid):
        seen.append((img1.size, flow.shape, valid.shape))
        return "a", "b", "c", "d"

    dataset = FacialFlowNet(root, split="train", transforms=transforms)
    assert dataset[0] == ("a", "b", "c", "d")
    assert seen == [((40, 32), (2, 32, 40), (32, 40))]


def test_bad_arguments_and_incomplete_data(synthetic_root, tmp_path):
    root, _ = synthetic_root
    with pytest.raises(ValueError, match="flow"):
        FacialFlowNet(root, flow="optical")
    with pytest.raises(ValueError, match="split"):
        FacialFlowNet(root, split="training")
    with pytest.raises(DatasetError, match="no sequences"):
        FacialFlowNet(tmp_path / "nowhere")
    missing = root / "flow" / "head" / "train" / "none" / "seq0001" / "0002.flo"
    missing.unlink()
    FacialFlowNet(root, flow="facial")  # the facial flows are all there
    with pytest.raises(DatasetError, match="0002.flo"):
        FacialFlowNet(root, flow="expression")


# --- torchvision's RAFT-small trained on our renders ---------------------------------------------------

class ReferenceTrainTransforms:
    """The steps of torchvision's references/optical_flow training preset a few CPU steps need:
    PILToTensor → ConvertImageDtype(float32) → Normalize(0.5, 0.5), and one random crop shared by
    both images, the flow and the valid mask (RandomResizeAndCrop without the resize)."""

    def __init__(self, crop: int, generator: torch.Generator) -> None:
        self.crop = crop
        self.generator = generator

    def _image(self, image: Image.Image) -> torch.Tensor:
        as_float = F.to_dtype(F.pil_to_tensor(image), torch.float32, scale=True)
        return F.normalize(as_float, mean=[0.5] * 3, std=[0.5] * 3)

    def __call__(self, img1, img2, flow, valid):
        img1, img2 = self._image(img1), self._image(img2)
        flow, valid = torch.from_numpy(flow), torch.from_numpy(valid)
        height, width = valid.shape
        top = int(torch.randint(0, height - self.crop + 1, (1,), generator=self.generator))
        left = int(torch.randint(0, width - self.crop + 1, (1,), generator=self.generator))
        window = (slice(top, top + self.crop), slice(left, left + self.crop))
        return (img1[(slice(None), *window)], img2[(slice(None), *window)], flow[(slice(None), *window)],
                valid[window])


def reference_sequence_loss(predictions: list[torch.Tensor], target: torch.Tensor, valid: torch.Tensor,
                            gamma: float = 0.8, max_flow: float = 400.0) -> torch.Tensor:
    """The RAFT reference's loss: γ-weighted mean |prediction − target| over valid pixels (others count 0)."""
    valid = (valid & (target.square().sum(1).sqrt() < max_flow))[:, None]
    errors = torch.stack([((p - target).abs() * valid).mean() for p in predictions])
    weights = gamma ** torch.arange(len(predictions) - 1, -1, -1, dtype=errors.dtype)
    return (errors * weights).sum()


@pytest.fixture(scope="module")
def rendered_root(tmp_path_factory):
    """A demo-like dataset from our renderer: the jaw test head, 144×136, 2 samples, two 3-frame sequences."""
    from ffn_render.render import parse_config, render_dataset
    from tests.render.support import jaw_head

    _, model_path = jaw_head(tmp_path_factory.mktemp("head"))
    config = parse_config({
        "render": {"width": 144, "height": 136, "samples": 2, "denoiser": "none", "device": "cpu"},
        "appearance": {"texture_size": 64, "background_size": 64},
        "sequences": {"count": 2, "n": 3, "seed": 3, "split_ratios": [1, 0, 0], "face_model": model_path},
    }, source="<test>")
    root = tmp_path_factory.mktemp("rendered")
    render_dataset(config, root, progress=False)
    return root


@pytest.fixture
def one_torch_thread():
    """One thread: on the small shared CPU, spinning OpenMP threads make steps far slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_rendered_items_are_the_flo_files(rendered_root):
    for flow in ("facial", "head", "expression"):
        dataset = FacialFlowNet(rendered_root, split="train", flow=flow)
        assert len(dataset) == 2 * 2
        check_against_files(dataset, rendered_root, flow)
    _, _, facial, valid = FacialFlowNet(rendered_root, split="train", flow="facial")[0]
    assert valid.any() and not valid.all() and np.abs(facial[:, valid]).max() > 0.5  # a head that moves


def test_raft_small_trains_on_our_renders(rendered_root, one_torch_thread):
    """torchvision's RAFT-small (random init, CPU) through the reference-style transforms and a
    DataLoader: shapes fit the model, and the loss on a fixed batch falls within a few steps."""
    torch.manual_seed(0)
    transforms = ReferenceTrainTransforms(crop=128, generator=torch.Generator().manual_seed(0))
    dataset = FacialFlowNet(rendered_root, split="train", flow="facial", transforms=transforms)
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=True)
    img1, img2, flow, valid = next(iter(loader))
    assert img1.shape == img2.shape == (4, 3, 128, 128) and img1.dtype == torch.float32
    assert -1.0 <= float(img1.min()) and float(img1.max()) <= 1.0
    assert flow.shape == (4, 2, 128, 128) and valid.shape == (4, 128, 128) and valid.dtype == torch.bool

    model = raft_small(weights=None)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-4, weight_decay=1e-5)
    losses = []
    for _ in range(12):
        predictions = model(img1, img2, num_flow_updates=4)
        assert len(predictions) == 4 and predictions[-1].shape == flow.shape
        loss = reference_sequence_loss(predictions, flow, valid)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(np.isfinite(losses))
    assert min(losses[-3:]) < 0.7 * losses[0], losses
