"""The dataset stage's commands: ``ffn-render verify ROOT`` and ``ffn-render preview ROOT``.

``verify --repair`` re-renders, which is the scale-out stage's work: that
command is :func:`ffn_render.cluster.cli.verify_command`, built from the
options and the check here.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..vocabulary import SPLITS
from .preview import write_preview
from .verify import verify_dataset

VERIFY_HELP = """Check that dataset ROOT satisfies the data contract (SPEC §2-§3) and holds what it says it holds.

Exits 0 if every check passes, 1 if any violation is found; each
violation is printed as 'PATH: problem', then one summary line each for
missing, extra and damaged sequences.
"""

VERIFY_OPTIONS = (
    click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path)),
    click.option("--split", type=click.Choice(SPLITS), help="Check only this split."),
    click.option("--quiet", "-q", is_flag=True, help="No progress bar and no list of violations; only the exit "
                 "status and, on failure, the summary."),
    click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout (for scripts)."),
    click.option("--max-errors", type=click.IntRange(min=0), default=50, show_default=True,
                 help="Stop after this many violations (0: no limit)."),
    click.option("--structure-only", is_flag=True, help="Check names and presence of files only, not their contents."),
)


def verify_options(command):
    """Apply the options of ``verify`` (ROOT, --split, --quiet, --json, --max-errors, --structure-only)."""
    for option in reversed(VERIFY_OPTIONS):
        command = option(command)
    return command


def report_verification(root: Path, split: str | None, quiet: bool, as_json: bool, max_errors: int,
                        structure_only: bool) -> None:
    """Verify ``root``, print the violations (or the JSON report) and exit 1 if there is any."""
    quiet = quiet or as_json
    report = verify_dataset(
        root, check_values=not structure_only, split=split, max_errors=max_errors or None, progress=not quiet
    )
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=1))
    elif not quiet:
        for violation in report.violations:
            click.echo(str(violation))
    if report.ok:
        if not quiet:
            click.echo(f"OK: {report.sequences} sequences, {report.files_checked} files satisfy the contract.")
        return
    if not as_json:
        for line in report.summary_lines():
            click.echo(line, err=True)
        more = " (stopped early; there may be more)" if report.stopped_early else ""
        click.echo(f"FAILED: {len(report.violations)} violations{more} in {report.root} ({report.sequences} sequences).",
                   err=True)
    click.get_current_context().exit(1)


@click.command("verify", help=VERIFY_HELP)
@verify_options
def verify_command(**options) -> None:
    report_verification(**options)


@click.command("preview")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="PNG to write [default: ROOT/preview.png].")
@click.option("--split", type=click.Choice(SPLITS), help="Only sequences of this split.")
@click.option("--seq", "seqs", multiple=True, help="Sequence id (or split/emotion/id) to show; repeatable.")
@click.option("--max-sequences", type=click.IntRange(min=1), default=4, show_default=True,
              help="Show at most this many sequences.")
@click.option("--pairs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Pairs shown per sequence, spread over the sequence.")
@click.option("--dpi", type=click.IntRange(min=20), default=100, show_default=True, help="Resolution of the PNG.")
def preview_command(
    root: Path, out: Path | None, split: str | None, seqs: tuple[str, ...], max_sequences: int, pairs: int, dpi: int
) -> None:
    """Write a contact sheet PNG of dataset ROOT: images, facial/head/expression flow, depth and mask."""
    path = write_preview(root, out, split, seqs, max_sequences, pairs, dpi, progress=True)
    click.echo(f"wrote {path}")
