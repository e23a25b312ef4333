"""Running a command: logging, and errors as one line on stderr with a non-zero exit status.

Shared by the ``ffn-render`` dispatcher (:mod:`ffn_render.cli`) and every
stage's ``python -m ffn_render.<stage>``.
"""

from __future__ import annotations

import logging
import sys

import click

from .errors import FFNError
from .extras import exit_for_missing_extra


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
