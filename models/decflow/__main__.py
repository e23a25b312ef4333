"""``python -m models.decflow`` — the same commands as the ``decflow`` console script."""

from .cli import main

main()
