"""`python -m ffn_render.sequence`: the same as `ffn-render sequence`."""

from ..console import run_standalone
from .cli import sequence_command

run_standalone(sequence_command)
