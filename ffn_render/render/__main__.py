"""`python -m ffn_render.render`: the same as `ffn-render render`."""

from ..console import run_standalone
from .cli import render_command

run_standalone(render_command)
