"""`python -m ffn_render.dataset ROOT`: `ffn-render verify ROOT` (the check; `--repair` is the cluster stage's)."""

from ..console import run_standalone
from .cli import verify_command

run_standalone(verify_command)
