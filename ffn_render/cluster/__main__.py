"""`python -m ffn_render.cluster`: the same as `ffn-render submit`."""

from ..console import run_standalone
from .cli import submit_command

run_standalone(submit_command)
