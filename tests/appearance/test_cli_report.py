"""The texture commands end to end on the sphere head, and the diversity report."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ffn_render.appearance.cli import texture_command, texture_report_command
from ffn_render.appearance.report import texture_report
from ffn_render.errors import AppearanceError
from ffn_render.facemodel.flame_io import write_npz

from ..params.test_fit import assert_one_line_error, run
from .sphere_head import sphere_head_arrays
from .test_ffhq_uv import source_map, write_obj


@pytest.fixture(scope="module")
def head_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "sphere.npz"
    write_npz(path, sphere_head_arrays())
    return path


def invoke(command, args):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=True)


def test_procedural_command_writes_deterministic_textures(head_npz, tmp_path):
    result = invoke(texture_command, ["procedural", "--model", head_npz, "--seed", 5, "--count", 3, "--size", 48, "--out", tmp_path / "tex"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "tex").iterdir())
    assert names == ["procedural_000005.png", "procedural_000006.png", "procedural_000007.png"]
    single = tmp_path / "one.png"
    assert invoke(texture_command, ["procedural", "--model", head_npz, "--seed", 6, "--size", 48, "--out", single]).exit_code == 0
    np.testing.assert_array_equal(np.asarray(Image.open(single)), np.asarray(Image.open(tmp_path / "tex" / names[1])))


def test_ffhq_uv_command_and_bad_obj(head_npz, tmp_path):
    arrays = sphere_head_arrays()
    obj = tmp_path / "hifi.obj"
    write_obj(obj, arrays["v_template"], arrays["f"], arrays["vt"][:, ::-1], arrays["ft"])
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    Image.fromarray(source_map()).save(in_dir / "x.png")
    result = invoke(texture_command, ["ffhq-uv", in_dir, tmp_path / "out", "--hifi-obj", obj, "--model", head_npz, "--size", 32])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "x.png").is_file()
    bad = tmp_path / "bad.obj"
    write_obj(bad, arrays["v_template"], arrays["f"][:5], arrays["vt"], arrays["ft"][:5])
    result = invoke(texture_command, ["ffhq-uv", in_dir, tmp_path / "out2", "--hifi-obj", bad, "--model", head_npz])
    assert result.exit_code != 0 and isinstance(result.exception, AppearanceError)
    assert not (tmp_path / "out2").exists()


def test_unwrap_command_round_trip_files(head_npz, tmp_path):
    from ffn_render.appearance import AppearanceConfig, sample_appearance
    from ffn_render.facemodel import load_face_model

    from .render_util import render_texture

    model = load_face_model(head_npz)
    app = sample_appearance(2, model, AppearanceConfig(texture_size=64, background_size=16))
    photo, _ = render_texture(model, model.v_template, app.albedo, app.camera.pinhole(96, 96))
    Image.fromarray(photo).save(tmp_path / "photo.png")
    (tmp_path / "camera.json").write_text(json.dumps(app.to_json()))
    (tmp_path / "params.json").write_text(json.dumps({"beta": [0, 0], "theta": [0] * 15, "psi": [0, 0]}))
    out = tmp_path / "tex.png"
    args = ["unwrap", tmp_path / "photo.png", "--params", tmp_path / "params.json", "--camera", tmp_path / "camera.json",
            "--model", head_npz, "--size", 64, "--out", out, "--weights-out", tmp_path / "w.png"]
    result = invoke(texture_command, args)
    assert result.exit_code == 0, result.output
    assert np.asarray(Image.open(out)).shape == (64, 64, 3) and (tmp_path / "w.png").is_file()
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out.unlink()
    result = invoke(texture_command, args)
    assert isinstance(result.exception, AppearanceError) and "photo.png" in str(result.exception)
    assert not out.exists()


def test_unwrap_table_out_names_each_photos_texture(head_npz, tmp_path):
    from ffn_render.appearance import AppearanceConfig, sample_appearance
    from ffn_render.facemodel import FaceModelRef, load_face_model
    from ffn_render.params.records import ParamRecord, read_param_table, write_param_table
    from ffn_render.sequence import SequenceOptions, build_sequence_specs

    from .render_util import render_texture

    model = load_face_model(head_npz)
    app = sample_appearance(2, model, AppearanceConfig(texture_size=64, background_size=16))
    photo = tmp_path / "photo.png"
    Image.fromarray(render_texture(model, model.v_template, app.albedo, app.camera.pinhole(96, 96))[0]).save(photo)
    (tmp_path / "camera.json").write_text(json.dumps(app.to_json()))
    records = [ParamRecord(id=name, source="fit", emotion="none", beta=(0.0, 0.0), psi=(0.0, 0.0), theta=(0.0,) * 15,
                           image=str(image)) for name, image in (("fit-photo", photo), ("fit-other", tmp_path / "other.png"))]
    table, textured = tmp_path / "params.jsonl", tmp_path / "textured.jsonl"
    write_param_table(table, records)
    common = ["--camera", tmp_path / "camera.json", "--model", head_npz, "--size", 64, "--out", tmp_path / "tex"]
    result = invoke(texture_command, ["unwrap", photo, "--params", table, *common, "--table-out", textured])
    assert result.exit_code == 0, result.output
    texture = (tmp_path / "tex" / "photo.png").resolve()
    assert texture.is_file()
    written = read_param_table(textured)
    assert [r.texture for r in written] == [str(texture), None]
    assert [{**r.to_json(), "texture": None} for r in written] == [{**r.to_json(), "texture": None} for r in records]
    specs = build_sequence_specs(written, SequenceOptions(n=2, face=FaceModelRef(str(head_npz))))
    assert [s.texture for s in specs] == [str(texture), None]

    # Bad uses: one line through the console entry point, no texture and no table written.
    (tmp_path / "params.json").write_text(json.dumps({"beta": [0, 0], "theta": [0] * 15, "psi": [0, 0]}))
    stray = tmp_path / "stray.png"
    stray.write_bytes(photo.read_bytes())
    write_param_table(tmp_path / "one.jsonl", records[1:])  # one record, so both photos would fall to it
    (tmp_path / "list.jsonl").write_text("[1, 2]\n")
    out = tmp_path / "bad"
    for params, photos, parts in (("params.json", [photo], ["--table-out", "--params", ".jsonl"]),
                                  ("params.jsonl", [photo, stray], [str(table), "none for", str(stray)]),
                                  ("one.jsonl", [photo, stray], ["one.jsonl", "both record fit-other's photo"]),
                                  ("list.jsonl", [photo], ["list.jsonl", "every line must be a JSON object"])):
        args = ["unwrap", *photos, "--params", tmp_path / params, *common[:-1], out, "--table-out", out / "t.jsonl"]
        assert_one_line_error(run("texture", *args), *parts)
        assert not out.exists()


def test_report_statistics_and_files(head_npz, tmp_path):
    folder = tmp_path / "tex"
    assert invoke(texture_command, ["procedural", "--model", head_npz, "--count", 6, "--size", 64, "--out", folder]).exit_code == 0
    out = tmp_path / "report.png"
    result = invoke(texture_report_command, [folder, "--out", out, "--model", head_npz])
    assert result.exit_code == 0, result.output
    for path in (out, tmp_path / "report_sheet.png", tmp_path / "report.json"):
        assert path.is_file()
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["summary"]["count"] == 6 and len(data["textures"]) == 6
    sheet = np.asarray(Image.open(tmp_path / "report_sheet.png"))
    assert sheet.shape[1] == 8 * 160
    # Flat maps of known sRGB colours: L* and ITA by hand (sRGB 128 grey: L* 53.59, b* 0, ITA 90°).
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(flat / "grey.png")
    Image.fromarray(np.full((32, 32, 3), 255, np.uint8)).save(flat / "white.png")
    summary = texture_report(flat, tmp_path / "flat.png", progress=False)
    assert summary.lightness_range == pytest.approx((53.59, 100.0), abs=0.05)
    assert summary.ita_range == pytest.approx((90.0, 90.0), abs=0.5)
    assert summary.mean_detail == pytest.approx(0.0, abs=1e-9)
