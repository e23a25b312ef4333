"""Checkpoint loading: synthetic GMA and public-DecFlow checkpoints built from the released key lists."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.decflow import DecFlow, DecFlowError, gma_baseline, load_checkpoint, load_model
from models.decflow.dad_encoder import DADEncoder, load_encoder_weights

from .compat import key_shapes, synthetic_state


@pytest.fixture(scope="module")
def gma_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "gma-sintel.pth"
    torch.save(synthetic_state(key_shapes("gma_state_dict_keys.txt"), seed=3), path)  # keys carry "module."
    return path


@pytest.fixture(scope="module")
def public_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "decflow-facialflownet.pth"
    torch.save(synthetic_state(key_shapes("decflow_public_state_dict_keys.txt"), prefix="module.", seed=4), path)
    return path


def test_gma_checkpoint_initialises_backbone_and_both_decoders(gma_file: Path) -> None:
    model = DecFlow()
    result = load_checkpoint(model, gma_file)
    assert result.unexpected == []
    assert result.missing and all(key.startswith(("dad_encoder.", "change_dim.", "res1.")) for key in result.missing)
    assert result.head_from_facial and not result.semantic_encoder_loaded
    source = torch.load(gma_file)
    own = model.state_dict()
    for key, value in source.items():
        assert torch.equal(own[key.removeprefix("module.")], value), key
    for key, value in own.items():
        if key.startswith("update_block_head."):
            assert torch.equal(value, source["module.update_block." + key.removeprefix("update_block_head.")])


def test_gma_checkpoint_loads_exactly_into_the_baseline(gma_file: Path) -> None:
    model = gma_baseline()
    result = load_checkpoint(model, gma_file, strict=True)
    assert result.missing == [] and result.unexpected == []


def test_public_decflow_checkpoint_loads_strictly(public_file: Path) -> None:
    model = DecFlow()
    result = load_checkpoint(model, public_file, strict=True)
    assert result.missing == [] and result.unexpected == [] and not result.head_from_facial
    source = torch.load(public_file)
    for key, value in model.state_dict().items():
        assert torch.equal(value, source["module." + key]), key
    assert not any(p.requires_grad for p in model.dad_encoder.parameters())


def test_load_model_detects_the_architecture(gma_file: Path, public_file: Path) -> None:
    baseline, _ = load_model(gma_file)
    assert baseline.architecture == {"semantic_encoder": False, "decompose": False}
    full, _ = load_model(public_file)
    assert full.architecture == {"semantic_encoder": True, "decompose": True}


def test_semantic_trunk_loads_from_a_decflow_checkpoint(public_file: Path) -> None:
    encoder = DADEncoder()
    load_encoder_weights(encoder, public_file)
    source = torch.load(public_file)
    assert torch.equal(encoder.model[2].unit1.body.conv1.conv.weight,
                       source["module.dad_encoder.model.2.unit1.body.conv1.conv.weight"])


def test_semantic_trunk_loader_rejects_a_checkpoint_without_one(gma_file: Path) -> None:
    with pytest.raises(DecFlowError, match="no complete ResNet-50 encoder"):
        load_encoder_weights(DADEncoder(), gma_file)


def test_raft_checkpoint_is_the_wrong_architecture(tmp_path: Path) -> None:
    state = synthetic_state({k.removeprefix("module."): v for k, v in key_shapes("gma_state_dict_keys.txt").items()})
    state["update_block.gru.convz1.weight"] = torch.zeros(128, 384, 1, 5)  # RAFT's GRU has no aggregated input
    path = tmp_path / "raft.pth"
    torch.save(state, path)
    with pytest.raises(DecFlowError, match=r"raft\.pth: .*wrong shape.*update_block\.gru\.convz1\.weight"):
        load_checkpoint(DecFlow(), path)


def test_unrelated_and_incomplete_checkpoints_are_rejected(tmp_path: Path) -> None:
    unrelated = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(1000, 2048)}, unrelated)
    with pytest.raises(DecFlowError, match="no tensor name matches"):
        load_checkpoint(DecFlow(), unrelated)
    partial = tmp_path / "partial.pth"
    state = synthetic_state(key_shapes("decflow_public_state_dict_keys.txt"))
    torch.save({k: v for k, v in state.items() if not k.startswith("fnet.")}, partial)
    with pytest.raises(DecFlowError, match="lacks .* backbone tensors .*fnet"):
        load_checkpoint(DecFlow(), partial)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(DecFlowError, match="garbage.pth: not a readable PyTorch checkpoint"):
        load_checkpoint(DecFlow(), garbage)
    with pytest.raises(DecFlowError, match="not found"):
        load_checkpoint(DecFlow(), tmp_path / "absent.pth")


def test_strict_load_reports_the_new_modules(gma_file: Path) -> None:
    with pytest.raises(DecFlowError, match="missing"):
        load_checkpoint(DecFlow(), gma_file, strict=True)


def test_gma_checkpoint_can_leave_the_head_decoder_random(gma_file: Path) -> None:
    """The released trainer loads GMA with strict=False: update_block_head keeps its initialisation."""
    torch.manual_seed(5)
    model = DecFlow()
    initial = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("update_block_head.")}
    result = load_checkpoint(model, gma_file, copy_head=False)
    assert not result.head_from_facial
    assert all(k.startswith(("update_block_head.", "dad_encoder.", "change_dim.", "res1.")) for k in result.missing)
    own = model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in initial.items())


def test_pytorchcv_imagenet_weights_load_into_the_trunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file in pytorchcv's layout (its own resnet50 state dict) at the cache path loads tensor for tensor."""
    from pytorchcv.models.common.model_store import get_model_name_suffix_data
    from pytorchcv.models.resnet import resnet50

    from models.decflow import dad_encoder

    torch.manual_seed(7)
    reference = resnet50().state_dict()
    error, sha1, _ = get_model_name_suffix_data("resnet50")
    path = tmp_path / ".torch" / "models" / f"resnet50-{error}-{sha1[:8]}.pth"
    path.parent.mkdir(parents=True)
    torch.save(reference, path)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DecFlowError, match=r"resnet50-.*\.pth: SHA-1 .* is not pytorchcv's"):
        dad_encoder.imagenet_weights_path()  # our file is not pytorchcv's download
    monkeypatch.setattr(dad_encoder, "imagenet_weights_path", lambda: path)
    encoder = DADEncoder()
    description = load_encoder_weights(encoder, "imagenet")
    assert "ImageNet" in description and str(path) in description
    assert torch.equal(encoder.model[0].conv.conv.weight, reference["features.init_block.conv.conv.weight"])
    assert torch.equal(encoder.model[3].unit6.body.conv3.bn.running_var, reference["features.stage3.unit6.body.conv3.bn.running_var"])
    assert not any(p.requires_grad for p in encoder.parameters())
