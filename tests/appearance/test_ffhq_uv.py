"""FFHQ-UV transfer on a synthetic pair of layouts related by a known affine map."""

import dataclasses

import numpy as np
import pytest
from PIL import Image

from ffn_render.appearance.ffhq_uv import eyeball_faces, read_obj_layout, transfer_folder, transfer_texture
from ffn_render.appearance.uvmap import rasterize_uv
from ffn_render.errors import AppearanceError

SOURCE_SIZE, TARGET_SIZE = 256, 96


def to_source_uv(uv):
    """The known layout map: a quarter turn, scaled into [0.1, 0.9]² (affine, so exact inside each face)."""
    return np.stack([0.1 + 0.8 * uv[..., 1], 0.9 - 0.8 * uv[..., 0]], axis=-1)


def pattern(uv):
    """A smooth colour pattern over a source layout's UV square (v up)."""
    u, v = uv[..., 0], uv[..., 1]
    return np.stack([128 + 100 * np.sin(2 * np.pi * 3 * u), 128 + 100 * np.cos(2 * np.pi * 2 * v),
                     128 + 90 * np.sin(2 * np.pi * (u + 2 * v))], axis=-1)


def source_map():
    rows, cols = np.mgrid[0:SOURCE_SIZE, 0:SOURCE_SIZE]
    uv = np.stack([(cols + 0.5) / SOURCE_SIZE, 1 - (rows + 0.5) / SOURCE_SIZE], axis=-1)  # row 0 is the top (v = 1)
    return np.clip(np.rint(pattern(uv)), 0, 255).astype(np.uint8)


def write_obj(path, vertices, faces, vt, ft):
    lines = [f"v {x} {y} {z}" for x, y, z in vertices] + [f"vt {u} {v}" for u, v in vt]
    lines += ["f " + " ".join(f"{a + 1}/{b + 1}" for a, b in zip(f, t)) for f, t in zip(faces, ft)]
    path.write_text("\n".join(lines) + "\n")


def psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((np.asarray(a, float) - b) ** 2))


@pytest.fixture()
def hifi_obj(head, tmp_path):
    path = tmp_path / "FLAME_w_HIFI3D_UV.obj"
    write_obj(path, head.v_template, head.faces, to_source_uv(head.vt), head.ft)
    return path


def test_known_mapping_is_reproduced(head, hifi_obj):
    layout = read_obj_layout(hifi_obj)
    np.testing.assert_array_equal(layout.faces, head.faces)
    baked = transfer_texture(head, layout.vt, layout.ft, source_map(), TARGET_SIZE)
    rows, cols = np.mgrid[0:TARGET_SIZE, 0:TARGET_SIZE]
    target_uv = np.stack([(cols + 0.5) / TARGET_SIZE, 1 - (rows + 0.5) / TARGET_SIZE], axis=-1)
    expected = pattern(to_source_uv(target_uv))
    covered = rasterize_uv(head.vt, head.ft, TARGET_SIZE).covered
    # Only bilinear resampling of a smooth pattern separates the two: measured 57 dB.
    assert psnr(baked[covered], expected[covered]) > 40
    # Without the v flip (image rows top-down, v up) the same comparison collapses.
    flipped = np.stack([to_source_uv(target_uv)[..., 0], 1 - to_source_uv(target_uv)[..., 1]], axis=-1)
    assert psnr(baked[covered], pattern(flipped)[covered]) < 20


def test_eyeballs_come_from_the_eye_texture(head, hifi_obj):
    layout = read_obj_layout(hifi_obj)
    eye_texture = np.zeros((64, 64, 3), np.uint8)
    eye_texture[...] = (10, 200, 30)
    baked = transfer_texture(head, layout.vt, layout.ft, source_map(), TARGET_SIZE, eye_texture)
    raster = rasterize_uv(head.vt, head.ft, TARGET_SIZE)
    on_eye = np.isin(raster.face_id, eyeball_faces(head))
    assert on_eye.sum() > 50
    np.testing.assert_array_equal(baked[on_eye], np.broadcast_to((10, 200, 30), (on_eye.sum(), 3)))
    assert not (baked[raster.covered & ~on_eye] == (10, 200, 30)).all(axis=1).any()


def test_eyeballs_from_ffhq_uvs_separate_eye_map(head, tmp_path):
    # As in FFHQ-UV's OBJ, eyeball faces get UVs shifted to u ∈ [2, 3] that index eye_ball_tex.png.
    eye_faces = eyeball_faces(head)
    eye_uv_index = np.unique(head.ft[eye_faces])
    source_vt = to_source_uv(head.vt)
    source_vt[eye_uv_index] = head.vt[eye_uv_index] + [2.0, 0.0]  # skull and eyes share no vt here
    eye_map = source_map()[::-1]  # any known image
    baked = transfer_texture(head, source_vt, head.ft, source_map(), TARGET_SIZE, source_eye_map=eye_map)
    raster = rasterize_uv(head.vt, head.ft, TARGET_SIZE)
    on_eye = np.isin(raster.face_id, eye_faces)
    rows, cols = np.mgrid[0:TARGET_SIZE, 0:TARGET_SIZE]
    target_uv = np.stack([(cols + 0.5) / TARGET_SIZE, 1 - (rows + 0.5) / TARGET_SIZE], axis=-1)
    expected = pattern(np.stack([target_uv[..., 0], 1 - target_uv[..., 1]], axis=-1))  # the flipped map's pattern
    assert psnr(baked[on_eye], expected[on_eye]) > 40


def test_batch_skips_done_maps_and_reports_bad_ones(head, hifi_obj, tmp_path):
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    Image.fromarray(source_map()).save(in_dir / "a.png")
    Image.fromarray(source_map()[:, ::-1]).save(in_dir / "b.png")
    (in_dir / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    Image.fromarray(source_map()[..., 0]).save(in_dir / "grey.png")
    Image.fromarray(source_map()[:, :200]).save(in_dir / "narrow.png")
    result = transfer_folder(head, hifi_obj, in_dir, out_dir, size=48, progress=False)
    assert sorted(p.name for p in result.written) == ["a.png", "b.png"]
    assert sorted(p.name for p, _ in result.failed) == ["corrupt.jpg", "grey.png", "narrow.png"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.png", "b.png"]  # nothing for the bad ones, no temporaries
    messages = dict((p.name, m) for p, m in result.failed)
    assert "RGB" in messages["grey.png"] and "square" in messages["narrow.png"]
    again = transfer_folder(head, hifi_obj, in_dir, out_dir, size=48, progress=False)
    assert again.written == [] and sorted(p.name for p in again.skipped) == ["a.png", "b.png"]


def test_layout_of_another_mesh_is_refused_before_writing(head, tmp_path):
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    Image.fromarray(source_map()).save(in_dir / "a.png")
    fewer = tmp_path / "fewer.obj"
    write_obj(fewer, head.v_template, head.faces[:-10], head.vt, head.ft[:-10])
    with pytest.raises(AppearanceError, match="faces"):
        transfer_folder(head, fewer, in_dir, out_dir, progress=False)
    shuffled = tmp_path / "shuffled.obj"
    write_obj(shuffled, head.v_template, head.faces[:, [1, 2, 0]][::-1], head.vt, head.ft)
    with pytest.raises(AppearanceError, match="other vertices"):
        transfer_folder(head, shuffled, in_dir, out_dir, progress=False)
    broken = tmp_path / "broken.obj"
    broken.write_text("vt 0 0\nf 1/1 2/x 3/1\n")
    with pytest.raises(AppearanceError, match="broken.obj"):
        transfer_folder(head, broken, in_dir, out_dir, progress=False)
    assert not out_dir.exists()


def test_eyeballs_without_masks_are_found_from_the_obj(head, tmp_path):
    # A model loaded without region masks (a bare FLAME .pkl without --masks), and FFHQ-UV's OBJ convention:
    # eyeball faces at u ∈ [2, 3]. Eyeball texels must come from the eye texture, not from the map's right edge.
    bare = dataclasses.replace(head, regions={})
    eye_faces = eyeball_faces(head)
    eye_uv_index = np.unique(head.ft[eye_faces])
    source_vt = to_source_uv(head.vt)
    source_vt[eye_uv_index] = head.vt[eye_uv_index] + [2.0, 0.0]
    obj = tmp_path / "FLAME_w_HIFI3D_UV.obj"
    write_obj(obj, head.v_template, head.faces, source_vt, head.ft)
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    face_map = np.zeros((SOURCE_SIZE, SOURCE_SIZE, 3), np.uint8)
    face_map[...] = (200, 40, 40)  # "hair" everywhere, so a clamped lookup would show it
    Image.fromarray(face_map).save(in_dir / "a.png")
    eye_png = tmp_path / "eye_ball_tex.png"
    Image.fromarray(np.full((32, 32, 3), (20, 90, 230), np.uint8)).save(eye_png)
    raster = rasterize_uv(head.vt, head.ft, TARGET_SIZE)
    on_eye = np.isin(raster.face_id, eye_faces)
    assert on_eye.sum() > 50

    transfer_folder(bare, obj, in_dir, out_dir, size=TARGET_SIZE, source_eye_map=eye_png, progress=False)
    baked = np.asarray(Image.open(out_dir / "a.png"))
    np.testing.assert_array_equal(baked[on_eye], np.broadcast_to((20, 90, 230), (on_eye.sum(), 3)))

    # Without an eye map the eyes are painted procedurally: no eyeball texel keeps the face map's colour.
    transfer_folder(bare, obj, in_dir, out_dir, size=TARGET_SIZE, overwrite=True, progress=False)
    baked = np.asarray(Image.open(out_dir / "a.png"))
    assert not (baked[on_eye] == (200, 40, 40)).all(axis=1).any()
