"""blender_scripts/ must run in a bare Blender: it may import only what Blender's Python ships."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "blender_scripts"
BLENDER_MODULES = {"bpy", "bpy_extras", "mathutils", "numpy", "blender_scripts"}


@pytest.mark.parametrize("path", sorted(SCRIPTS.glob("*.py")), ids=lambda p: p.name)
def test_imports_only_what_blender_has(path):
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
    foreign = imported - BLENDER_MODULES - set(sys.stdlib_module_names)
    assert not foreign, f"{path.name} imports {sorted(foreign)}"
