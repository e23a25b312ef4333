"""``ffn-render flame``: inspect, convert and generate FLAME-layout model files; ``ffn-render preview-head``."""

from __future__ import annotations

import functools

import click

from ..errors import FaceModelError
from .flame_io import write_npz
from .loader import BUILTIN_NAME, FaceModelRef, face_model_to_arrays, load_face_model
from .preview import render_head_preview

FACE_MODEL_OPTIONS = (
    click.option("--model", "model_spec", default=BUILTIN_NAME, show_default=True,
                 help=f"Face model: '{BUILTIN_NAME}' (the built-in head) or a FLAME .pkl / .npz file."),
    click.option("--uv", "uv_path", type=click.Path(dir_okay=False),
                 help="UV layout (FLAME_texture.npz or head_template.obj) for a bare FLAME .pkl."),
    click.option("--masks", "masks_path", type=click.Path(dir_okay=False),
                 help="Region masks (FLAME_masks.pkl) for a bare FLAME .pkl."),
)


def face_model_options(command):
    """--model, --uv, --masks, handed to ``command`` as one ``face_model`` argument (a :class:`FaceModelRef`)."""
    @functools.wraps(command)
    def with_face_model(*args, model_spec: str, uv_path: str | None, masks_path: str | None, **kwargs):
        return command(*args, face_model=FaceModelRef(model_spec, uv_path, masks_path), **kwargs)

    for option in reversed(FACE_MODEL_OPTIONS):
        with_face_model = option(with_face_model)
    return with_face_model


@click.group("flame")
def flame_command() -> None:
    """Face-model files in FLAME's layout (FLAME 2020/2023 .pkl, our .npz, the built-in head)."""


@flame_command.command("info")
@click.argument("model_spec", default=BUILTIN_NAME)
@click.option("--uv", "uv_path", type=click.Path(dir_okay=False), help="FLAME_texture.npz or head_template.obj")
@click.option("--masks", "masks_path", type=click.Path(dir_okay=False), help="FLAME_masks.pkl")
def info_command(model_spec: str, uv_path: str | None, masks_path: str | None) -> None:
    """Print sizes, coefficient counts, UVs and regions of MODEL_SPEC ('ffn-head' or a file)."""
    model = load_face_model(model_spec, uv_path=uv_path, masks_path=masks_path)
    click.echo(f"model        {model.name}")
    click.echo(f"vertices     {model.n_vertices}")
    click.echo(f"faces        {model.faces.shape[0]}")
    click.echo(f"shape        {model.n_shape} components")
    click.echo(f"expression   {model.n_expr} components")
    click.echo(f"uv           {'none' if model.vt is None else f'{model.vt.shape[0]} texture coordinates'}")
    click.echo(f"regions      {', '.join(sorted(model.regions)) or 'none'}")
    if model.expression_names:
        click.echo(f"named expr.  {', '.join(model.expression_names)}")


@flame_command.command("convert")
@click.argument("source", type=click.Path(dir_okay=False))
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--uv", "uv_path", type=click.Path(dir_okay=False), help="Add FLAME's UV layout (FLAME_texture.npz or head_template.obj).")
@click.option("--masks", "masks_path", type=click.Path(dir_okay=False), help="Add region masks (FLAME_masks.pkl).")
def convert_command(source: str, target: str, uv_path: str | None, masks_path: str | None) -> None:
    """Convert a FLAME pickle (read safely, no chumpy needed) to a plain .npz.

    The .npz keeps FLAME's keys and adds n_shape, vt/ft and mask_<region>;
    it loads with numpy alone (allow_pickle=False).
    """
    if not target.endswith(".npz"):
        raise click.BadParameter(f"{target}: target must end in .npz", param_hint="TARGET")
    model = load_face_model(source, uv_path=uv_path, masks_path=masks_path)
    write_npz(target, face_model_to_arrays(model))
    click.echo(f"wrote {target} ({model.n_vertices} vertices, {model.n_shape}+{model.n_expr} components)")


@flame_command.command("build-head")
@click.option("--out", "target", type=click.Path(dir_okay=False), required=True, help="Output .npz path.")
def build_head_command(target: str) -> None:
    """Write the built-in procedural head ("ffn-head") as a FLAME-layout .npz."""
    from .builtin_head import build_builtin_head

    write_npz(target, build_builtin_head())
    click.echo(f"wrote {target}")


@click.command("preview-head")
@click.option("--out", "out_png", required=True, type=click.Path(dir_okay=False), help="Output PNG path.")
@face_model_options
@click.option("--size", default=256, show_default=True, type=click.IntRange(64, 2048), help="Pixels per panel side.")
def preview_head_command(out_png: str, face_model: FaceModelRef, size: int) -> None:
    """Draw a face model neutral, with each expression, identities, jaw and eye poses, into a PNG grid
    (region masks colour lips and eyes)."""
    if not out_png.lower().endswith(".png"):
        raise FaceModelError(f"{out_png}: the preview is written as PNG; give a path ending in .png")
    model = face_model.load()
    panels = render_head_preview(model, out_png, size=size)
    click.echo(f"wrote {out_png} ({len(panels)} panels)")
