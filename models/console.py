"""Console entry points of ``models/``: a missing [train] extra is one line naming it, not a traceback."""

from __future__ import annotations

from ffn_render.extras import missing_extra_exits


def decflow() -> None:
    """The ``decflow`` command (models.decflow.cli), importing torch only inside the guard."""
    with missing_extra_exits(preferred="train"):
        from models.decflow.cli import main

        main()
