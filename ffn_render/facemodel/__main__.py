"""`python -m ffn_render.facemodel`: the same as `ffn-render flame`."""

from ..console import run_standalone
from .cli import flame_command

run_standalone(flame_command)
