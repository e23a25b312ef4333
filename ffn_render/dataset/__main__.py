"""`python -m ffn_render.dataset`: the same as `ffn-render verify`."""

from ..cli import run_standalone
from .verify import verify_command

run_standalone(verify_command)
