"""`python -m ffn_render.appearance`: the same as `ffn-render texture`."""

from ..console import run_standalone
from .cli import texture_command

run_standalone(texture_command)
