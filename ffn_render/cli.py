"""The ``ffn-render`` command: one subcommand per pipeline stage.

Subcommands are imported only when used, so ``ffn-render --help`` stays fast
and a stage's heavy dependencies (bpy, torch) load only for that stage.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from .errors import FFNError
from .extras import exit_for_missing_extra

# name → "module:attribute" of a click command
SUBCOMMANDS = {
    "flame": ("ffn_render.facemodel.cli:flame_command", "Face-model files: inspect FLAME, convert to .npz, write the built-in head."),
    "preview-head": ("ffn_render.facemodel.preview:preview_head_command", "Draw the face model with expressions and identities to a PNG."),
    "params": ("ffn_render.params.cli:params_command", "Make a parameter table (prior sampler, EMOCA import)."),
    "texture": ("ffn_render.appearance.cli:texture_command", "Albedo maps: procedural, FFHQ-UV transfer, unwrap from a photo."),
    "texture-report": ("ffn_render.appearance.cli:texture_report_command", "Identity statistics (dlib) of a dataset ROOT's rendered faces, or statistics of a texture folder."),
    "sequence": ("ffn_render.sequence:sequence_command", "Build FFN-F / FFN-H sequence specs (also: python -m ffn_render.sequence)."),
    "render": ("ffn_render.render.pipeline:render_command", "Render sequence specs with Blender Cycles into the FFN layout (images, .flo, depth, masks)."),
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


def configure_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def report_errors(command: click.Command, args: list[str] | None = None) -> None:
    """Run ``command`` and exit with its status; pipeline and OS errors become one line on stderr and status 1.

    With ``standalone_mode=False`` click *returns* the status a command
    asked for (``ctx.exit(1)``) instead of exiting, so it is passed on here.
    """
    from .interrupts import Interrupted

    try:
        status = command.main(args=args, standalone_mode=False)
    except FFNError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except ModuleNotFoundError as exc:  # a stage's optional extra is not installed: name it
        exit_for_missing_extra(exc)
    except OSError as exc:  # a read-only or full disk met while writing: name the file, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"error: {where}{exc.strerror or exc}", err=True)
        sys.exit(1)
    except Interrupted as exc:
        click.echo(f"stopped: {exc}; run the same command again to resume", err=True)
        sys.exit(exc.exit_status)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(status if isinstance(status, int) and not isinstance(status, bool) else 0)


def run_standalone(command: click.Command) -> None:
    """Entry point for ``python -m ffn_render.<stage>``."""
    configure_logging(1)
    report_errors(command)


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
