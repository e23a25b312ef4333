"""`python -m ffn_render.params`: the same as `ffn-render params`."""

from ..console import run_standalone
from .cli import params_command

run_standalone(params_command)
