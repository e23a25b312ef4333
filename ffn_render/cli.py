"""The ``ffn-render`` command: one subcommand per pipeline stage.

Subcommands are imported only when used, so ``ffn-render --help`` stays fast
and a stage's heavy dependencies (bpy, torch) load only for that stage.
"""

from __future__ import annotations

import importlib

import click

from .console import configure_logging, report_errors

# name → "module:attribute" of a click command
SUBCOMMANDS = {
    "flame": ("ffn_render.facemodel.cli:flame_command", "Face-model files: inspect FLAME, convert to .npz, write the built-in head."),
    "preview-head": ("ffn_render.facemodel.cli:preview_head_command", "Draw the face model with expressions and identities to a PNG."),
    "params": ("ffn_render.params.cli:params_command", "Make a parameter table (prior sampler, EMOCA import)."),
    "texture": ("ffn_render.appearance.cli:texture_command", "Albedo maps: procedural, FFHQ-UV transfer, unwrap from a photo."),
    "texture-report": ("ffn_render.appearance.cli:texture_report_command", "Identity statistics (dlib) of a dataset ROOT's rendered faces, or statistics of a texture folder."),
    "sequence": ("ffn_render.sequence.cli:sequence_command", "Build FFN-F / FFN-H sequence specs (also: python -m ffn_render.sequence)."),
    "render": ("ffn_render.render.cli:render_command", "Render sequence specs with Blender Cycles into the FFN layout (images, .flo, depth, masks)."),
    "submit": ("ffn_render.cluster.cli:submit_command", "Render on many local workers or as a Slurm job array, one task per shard."),
    "status": ("ffn_render.cluster.cli:status_command", "Done / failed / pending per shard, throughput and time left for a dataset."),
    "verify": ("ffn_render.cluster.cli:verify_command", "Check a dataset against the layout and label contract; exit 1 on any violation."),
    "preview": ("ffn_render.dataset.cli:preview_command", "Write a contact-sheet PNG of a dataset (frames, flow colour wheel, depth, mask)."),
}


class LazyGroup(click.Group):
    """A click group that imports each subcommand's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        module_name, attr = SUBCOMMANDS[name][0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        command.short_help = SUBCOMMANDS[name][1]
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="ffn_render")
def cli(verbose: int) -> None:
    """ffn_render: an open factory for FacialFlowNet-style facial optical-flow datasets.

    Stages: params → sequence → render → verify/preview. Every command runs on
    the built-in defaults (procedural head, textures, backgrounds) and takes
    real FLAME / EMOCA / FFHQ-UV assets when pointed at them.
    """
    configure_logging(verbose)


def main(args: list[str] | None = None) -> None:
    """Console-script entry point."""
    report_errors(cli, args)


if __name__ == "__main__":
    main()
