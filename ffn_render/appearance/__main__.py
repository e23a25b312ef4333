"""`python -m ffn_render.appearance`: the same as `ffn-render texture`."""

from ..cli import run_standalone
from .cli import texture_command

run_standalone(texture_command)
