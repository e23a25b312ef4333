"""``ffn-render sequence`` / ``python -m ffn_render.sequence``: parameter records into sequence specs."""

from __future__ import annotations

import click

from ..facemodel import FaceModelRef
from ..facemodel.cli import face_model_options
from . import SequenceOptions, build_sequence_specs, choose_length, export_meshes, write_sequence_specs


def _parse_ratios(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected three comma-separated numbers, got {text!r}") from None
    if len(values) != 3:
        raise click.BadParameter(f"expected three comma-separated numbers, got {text!r}")
    return values  # type: ignore[return-value]


@click.command("sequence", context_settings={"show_default": True})
@click.option("--n", "n", default="mixed", help="Frames per sequence (integer ≥ 2), or 'mixed' to draw n from 5/10/15/20 as in the paper.")
@click.option("--params", "params_path", type=click.Path(dir_okay=False), default=None,
              help="Parameter table (JSON lines from `ffn-render params`). Default: sample --count records from the prior.")
@click.option("--count", default=SequenceOptions.count, help="Records to sample from the prior when --params is not given.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/specs", help="Folder for the sequence specs.")
@click.option("--seed", default=0, help="Seed for lengths, splits and per-sequence seeds.")
@click.option("--split-ratios", default="97,2,1", help="train,val,test shares (by sequence; identities are disjoint).")
@face_model_options
@click.option("--export-meshes", "mesh_dir", type=click.Path(file_okay=False), default=None, help="Also write every frame's mesh here for inspection.")
@click.option("--mesh-format", type=click.Choice(["obj", "ply"]), default="obj")
@click.option("--allow-model-mismatch", is_flag=True,
              help="Use records made for another model version (e.g. EMOCA's FLAME 2020 codes with FLAME 2023) with a warning.")
def sequence_command(n, params_path, count, out_dir, seed, split_ratios, face_model: FaceModelRef, mesh_dir, mesh_format,
                     allow_model_mismatch):
    """Build FFN-F / FFN-H sequence specs (SPEC §1) from a parameter table.

    Each record becomes one sequence of n frames from (β, 0, 0) to (β, θ, ψ);
    the specs hold every per-frame parameter set the renderer needs.

    Example: python -m ffn_render.sequence --n 10 --out out/specs
    """
    from tqdm import tqdm

    from ..params.records import check_records_against_model, read_param_table

    choose_length(n, 0)  # validate before any work
    options = SequenceOptions(count=count, n=n if n == "mixed" else int(n), seed=seed,
                              split_ratios=_parse_ratios(split_ratios), face=face_model)
    model = face_model.load()
    if params_path is None:
        from ..params.prior import sample_prior

        records = sample_prior(options.count, seed, model)
    else:
        records = read_param_table(params_path)
        check_records_against_model(records, model, source=params_path, allow_model_mismatch=allow_model_mismatch)
    specs = build_sequence_specs(records, options)
    write_sequence_specs(out_dir, specs, options)
    pairs = sum(s.n - 1 for s in specs)
    click.echo(f"wrote {len(specs)} sequence specs ({pairs} FFN-F + {pairs} FFN-H pairs) to {out_dir}")
    if mesh_dir:
        for spec in tqdm(specs, desc="meshes", unit="seq"):
            export_meshes(spec, model, mesh_dir, mesh_format)
