"""``ffn-render texture …`` and ``ffn-render texture-report``: make and inspect albedo textures."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import AppearanceError
from ..facemodel import FaceModel, FaceModelRef
from ..facemodel.cli import face_model_options


@click.group("texture")
def texture_command() -> None:
    """Albedo textures in the face model's UV layout: procedural, from FFHQ-UV, or unwrapped from photos."""


@texture_command.command("procedural")
@face_model_options
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the (first) texture.")
@click.option("--count", type=click.IntRange(min=1), default=1, show_default=True, help="Textures for seeds seed … seed+count−1.")
@click.option("--size", type=click.IntRange(16, 8192), default=1024, show_default=True, help="Texture side in texels.")
@click.option("--out", "out", type=click.Path(), required=True,
              help="Output .png for one texture, or a folder (files procedural_<seed>.png) for several.")
def procedural_command(face_model: FaceModelRef, seed: int, count: int, size: int, out: str) -> None:
    """Write procedural skin albedo maps (tone, pores, lips, brows, hair, eyes), deterministic by seed."""
    from tqdm import tqdm

    from .albedo import procedural_albedo
    from .textures import write_png

    model = face_model.load()
    if count == 1 and out.lower().endswith(".png"):
        targets = [(seed, Path(out))]
    else:
        targets = [(s, Path(out) / f"procedural_{s:06d}.png") for s in range(seed, seed + count)]
    for texture_seed, target in tqdm(targets, desc="procedural", unit="map", disable=len(targets) == 1):
        write_png(target, procedural_albedo(model, texture_seed, size))
    click.echo(f"wrote {len(targets)} texture(s) to {out}")


@texture_command.command("ffhq-uv")
@click.argument("in_dir", type=click.Path(file_okay=False, exists=True))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--hifi-obj", type=click.Path(dir_okay=False, exists=True), required=True,
              help="FLAME_w_HIFI3D_UV.obj from the FFHQ-UV project (FLAME faces with HiFi3D++ texture coordinates).")
@face_model_options
@click.option("--size", type=click.IntRange(16, 8192), default=1024, show_default=True, help="Output texture side.")
@click.option("--eye-texture", type=click.Path(dir_okay=False, exists=True),
              help="FFHQ-UV's eye_ball_tex.png (the OBJ's eyeball UVs, u in 2..3, point into it); default: procedural eyes.")
@click.option("--overwrite", is_flag=True, help="Redo maps whose output already exists.")
def ffhq_uv_command(in_dir, out_dir, hifi_obj, face_model: FaceModelRef, size: int, eye_texture: str | None,
                    overwrite: bool) -> None:
    """Bake FFHQ-UV maps (HiFi3D++ layout) from IN_DIR into the model's UV layout in OUT_DIR.

    Each IN_DIR/<name>.<ext> becomes OUT_DIR/<name>.png; existing outputs are
    skipped, so an interrupted run resumes. Eyeballs come from --eye-texture or
    get a procedural eye texture. Exits non-zero if any map failed.
    """
    from .ffhq_uv import transfer_folder

    model = face_model.load()
    result = transfer_folder(model, hifi_obj, in_dir, out_dir, size=size, overwrite=overwrite, source_eye_map=eye_texture)
    click.echo(f"wrote {len(result.written)}, skipped {len(result.skipped)} existing, failed {len(result.failed)}")
    if result.failed:
        raise AppearanceError(f"{len(result.failed)} map(s) failed, first: {result.failed[0][1]}")


@texture_command.command("unwrap")
@click.argument("photos", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--fit", "fit", is_flag=True, help="Fit the face model to each photo's dlib landmarks (no --params/--camera needed).")
@click.option("--params", "params_path", type=click.Path(exists=True, dir_okay=False),
              help="Fitted β, θ, ψ: a parameter table (.jsonl, e.g. from `params fit`; the record of the photo), "
                   "or JSON/NPZ with keys beta, theta (15), psi.")
@click.option("--camera", "camera_path", type=click.Path(dir_okay=False, exists=True),
              help='Camera JSON: a Blender camera (lens_mm, sensor_width_mm, location, rotation_euler; a sequence metadata '
                   'file works), {"type": "pinhole", ...} (params fit) or {"type": "weak_perspective", "scale", "tx", "ty"} '
                   "(DECA/EMOCA). Default with a .jsonl --params: the record's fitted camera.")
@click.option("--out", type=click.Path(), required=True,
              help="Output texture .png for one photo, or a folder (<photo stem>.png) for several.")
@face_model_options
@click.option("--landmarks", "landmark_files", multiple=True, type=click.Path(dir_okay=False),
              help="With --fit and a FLAME model: its landmark embedding (see `params fit --help`).")
@click.option("--size", type=click.IntRange(16, 8192), default=1024, show_default=True, help="Output texture side.")
@click.option("--mean-texture", type=click.Path(dir_okay=False, exists=True),
              help="Base texture (model layout) for texels seen neither directly nor mirrored; default: the procedural "
                   "albedo of seed 0, its colour scaled to the photo's seen skin.")
@click.option("--no-symmetry", is_flag=True, help="Do not fill hidden texels from their left-right mirror.")
@click.option("--weights-out", type=click.Path(dir_okay=False), help="Also write the visibility weight map (grey PNG; one photo).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False),
              help="Write per photo: texel fractions seen/mirrored/base, ID Sim photo↔render (JSON).")
@click.option("--table-out", "table_out", type=click.Path(dir_okay=False),
              help="With a parameter table --params: also write that table with each photo's record naming its new "
                   "texture (field texture), so its sequence renders with it (`python -m ffn_render.sequence --params`).")
def unwrap_command(photos, fit, params_path, camera_path, out, face_model: FaceModelRef, landmark_files, size,
                   mean_texture, no_symmetry, weights_out, report_path, table_out) -> None:
    """Unwrap face PHOTOS into UV textures with the fitted face parameters and camera.

    Texels are coloured from the photo where the surface faces the camera,
    from their mirror texel where that was seen, else from the base; the
    textured head is rendered back with the same parameters and camera and
    compared with the photo (ID Sim, dlib descriptors).
    """
    import json

    import numpy as np

    from ..faces import read_rgb
    from ..fileio import atomic_write_text
    from .textures import read_texture, write_png
    from .unwrap import photo_texture, read_camera, read_params, table_camera, textured_table

    if fit == bool(params_path):
        raise AppearanceError("give either --fit or --params (with --camera unless the table records the camera)")
    if table_out and not str(params_path).lower().endswith(".jsonl"):
        raise AppearanceError("--table-out writes a parameter table: give the photos' table as --params (.jsonl, "
                              "from `params fit`)")
    single = len(photos) == 1 and out.lower().endswith(".png")
    targets = _texture_targets(photos, out, single)
    # Checked before any work: every photo has its own record in the table.
    textured = textured_table(params_path, dict(zip(photos, targets))) if table_out else None
    model = face_model.load()
    mean = read_texture(mean_texture) if mean_texture else None
    fitter = _photo_fitter(model, landmark_files) if fit else None
    report = {}
    for photo, target in zip(photos, targets):
        image = read_rgb(photo, AppearanceError)
        height, width = image.shape[:2]
        if fitter is not None:
            result = fitter(image, photo)
            beta, theta, psi = result.beta, result.theta, result.psi
            camera = read_camera_json(result.camera_json(), width, height, photo)
        else:
            beta, theta, psi = read_params(params_path, photo)
            camera = (read_camera(camera_path, width, height) if camera_path
                      else table_camera(params_path, photo, width, height))
        made = photo_texture(image, model, beta, theta, psi, camera, size, str(photo), mean_texture=mean,
                             symmetry=not no_symmetry)
        if weights_out and single:
            grey = np.clip(np.rint(made.unwrap.weight * 255), 0, 255).astype(np.uint8)
            write_png(weights_out, np.repeat(grey[..., None], 3, axis=2))
        write_png(target, made.unwrap.texture)
        report[str(photo)] = {"texture": str(target), **made.to_json()}
        click.echo(f"wrote {target}: {made.summary()}")
    if report_path:
        atomic_write_text(report_path, json.dumps(report, indent=1) + "\n")
    if textured is not None:
        atomic_write_text(table_out, "".join(json.dumps(row, allow_nan=False) + "\n" for row in textured))
        click.echo(f"wrote {table_out}: {len(photos)} of its {len(textured)} records name their texture")


def _texture_targets(photos, out: str, single: bool) -> list[Path]:
    """Each photo's output texture; refused before any work when two photos would write the same file."""
    if single:
        return [Path(out)]
    targets = [Path(out) / f"{Path(photo).stem}.png" for photo in photos]
    first_photo: dict[Path, str] = {}
    for photo, target in zip(photos, targets):
        if target in first_photo:
            raise AppearanceError(f"{photo}: its texture {target} would overwrite that of {first_photo[target]} "
                                  "(same file name); unwrap photos with distinct names or in separate runs")
        first_photo[target] = photo
    return targets


def read_camera_json(data: dict, width: int, height: int, source: str):
    from .unwrap import pinhole_camera

    return pinhole_camera(data, width, height, source)


def _photo_fitter(model: FaceModel, landmark_files):
    """detect + fit of one photo with the model's landmark embedding (built once)."""
    from ..facemodel.fit import fit_photo
    from ..facemodel.landmarks import landmark_embedding_for

    embedding = landmark_embedding_for(model, list(landmark_files) or None)
    return lambda image, source: fit_photo(model, embedding, image, source)


@click.command("texture-report")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option("--out", type=click.Path(dir_okay=False), default="texture_report.png", show_default=True,
              help="Figure PNG; <out>_sheet.png (contact sheet) and <out>.json (numbers) are written beside it.")
@click.option("--model", "model_spec", default=None,
              help="Texture folders: face model of the textures' layout, to measure only facial skin (default: the whole map).")
@click.option("--uv", "uv_path", type=click.Path(dir_okay=False), help="UV layout for a bare FLAME .pkl.")
@click.option("--masks", "masks_path", type=click.Path(dir_okay=False), help="Region masks (FLAME_masks.pkl).")
@click.option("--detector", type=click.Choice(["hog", "cnn"]), default="hog", show_default=True,
              help="dlib's face detector for a dataset ROOT: hog (near-frontal faces, fast; the figures in docs/) or "
                   "cnn (MMOD: also turned faces the HOG detector misses, ~1 s per frame on a CPU).")
def texture_report_command(folder: str, out: str, model_spec: str | None, uv_path, masks_path, detector: str) -> None:
    """Identity diversity of a dataset ROOT, or skin-tone spread of a texture FOLDER.

    A dataset ROOT (it has image/facial/): dlib's face descriptor on the first
    facial frame of every sequence (one per identity) gives the paper's Table-1
    statistics (SPEC §9): detection rate, ID Std, ID Cv, mean pairwise cosine,
    pairwise distances (median, p10, p90) and the share of pairs above 0.6
    (different people to dlib); for people fitted to photos (`params fit`),
    ID Sim between each photo and its render. A texture folder: L*, ITA and
    detail per map.
    """
    from .report import identity_report, is_dataset_root, texture_report

    if is_dataset_root(folder):
        stats, preservation = identity_report(folder, out, detector=detector)
        click.echo(stats.summary_line())
        if preservation is not None:
            click.echo(preservation.summary_line())
    else:
        model = FaceModelRef(model_spec, uv_path, masks_path).load() if model_spec else None
        summary = texture_report(folder, out, model)
        click.echo(
            f"{summary.count} textures: L* {summary.lightness_range[0]:.0f}–{summary.lightness_range[1]:.0f}, "
            f"ITA {summary.ita_range[0]:.0f}–{summary.ita_range[1]:.0f}°, detail {summary.mean_detail:.2f} "
            f"(for identity, render them and report the dataset ROOT)"
        )
    click.echo(f"wrote {out}")
