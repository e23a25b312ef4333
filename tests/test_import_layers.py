"""Imports run down the pipeline, never back up, and never in a circle (ffn_render, models, blender_scripts).

The layers, lowest first; a module may import its own stage and any layer
below it, never a layer above, never a sibling in its own layer:

 0. shared leaves: ffn_render (the package), errors, fileio, configio,
    console (running a command), faces, assets, extras, interrupts,
    vocabulary (splits, emotions, flow kinds), camera (the pinhole camera), seeds,
    meshes (vertex normals, triangle rasterisation) — and blender_scripts (what runs inside
    Blender: the standard library, bpy, numpy)
 1. facemodel | labels       the face model; label files and the analytic reference
 2. params | appearance      parameter tables; textures, backgrounds, cameras, lights
 3. sequence                 parameter sequences and their specs
 4. dataset                  the layout on disk and its records (manifest, run plan,
                             shards), verify, preview
 5. render                   Blender Cycles into the layout
 6. cluster                  many workers, Slurm, status, repair
 7. ffn_render.cli           the `ffn-render` dispatcher (names each stage's command by
                             string, imports it on use)
 8. ffn_render.__main__      `python -m ffn_render`
 9. models                   DecFlow, on top of ffn_render (never the reverse)

"|" marks siblings: neither imports the other. Every import counts, at
module level and inside functions (a function-level import is still an
import: it only hides the order from the reader). Within models, evaluation
stands apart from training.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("ffn_render", "models", "blender_scripts")

LAYERS: tuple[tuple[str, ...], ...] = (
    ("ffn_render", "ffn_render.errors", "ffn_render.fileio", "ffn_render.configio", "ffn_render.console",
     "ffn_render.faces", "ffn_render.assets", "ffn_render.extras", "ffn_render.interrupts",
     "ffn_render.vocabulary", "ffn_render.camera", "ffn_render.meshes", "ffn_render.seeds", "blender_scripts"),
    ("ffn_render.facemodel", "ffn_render.labels"),
    ("ffn_render.params", "ffn_render.appearance"),
    ("ffn_render.sequence",),
    ("ffn_render.dataset",),
    ("ffn_render.render",),
    ("ffn_render.cluster",),
    ("ffn_render.cli",),
    ("ffn_render.__main__",),
    ("models",),
)
#: (importer, imported) pairs that must stay apart although their layers would allow it.
APART = (("models.decflow.evaluate", "models.decflow.train"),)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} (line {self.line}) imports {self.imported}"


def module_files(root: Path) -> dict[str, tuple[Path, bool]]:
    """{dotted module name: (file, is a package's __init__)} for the packages under ``root``."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(root: Path = REPO) -> list[Import]:
    """Every import of one of our modules by another, module-level and function-level alike."""
    modules = module_files(root)
    found = []
    for module, (path, is_package) in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(module, is_package, node)
                # `from package import name` imports the submodule package.name where there is one.
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
            else:
                continue
            found += [Import(module, target, node.lineno) for target in targets
                      if target.split(".")[0] in PACKAGES and target != module]
    return found


def layer_of(module: str) -> tuple[int, str]:
    """(rank, stage) of ``module``: the longest stage name in LAYERS that is it or a package above it
    (``ffn_render`` itself is only the package's ``__init__``: each of its modules is placed by name)."""
    matches = [(len(stage), rank, stage) for rank, stages in enumerate(LAYERS) for stage in stages
               if module == stage or (module.startswith(stage + ".") and stage != "ffn_render")]
    if not matches:
        raise LookupError(f"{module} is in no layer; place it in LAYERS")
    _, rank, stage = max(matches)
    return rank, stage


def upward_imports(graph: list[Import]) -> list[Import]:
    """Imports of a higher layer, of a sibling stage in the same layer, or of a pair kept APART."""
    bad = []
    for imp in graph:
        (rank_from, stage_from), (rank_to, stage_to) = layer_of(imp.importer), layer_of(imp.imported)
        across = stage_from != stage_to and rank_from > 0
        if rank_to > rank_from or (across and rank_to == rank_from):
            bad.append(imp)
        elif any(imp.importer == a and (imp.imported == b or imp.imported.startswith(b + ".")) for a, b in APART):
            bad.append(imp)
    return bad


def cycles(graph: list[Import]) -> list[list[str]]:
    """The import circles: strongly connected sets of two or more modules (Tarjan's algorithm)."""
    edges: dict[str, set[str]] = {}
    for imp in graph:
        edges.setdefault(imp.importer, set()).add(imp.imported)
        edges.setdefault(imp.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> list[Import]:
    return import_graph()


def test_every_module_has_a_layer(graph):
    for module in module_files(REPO):
        layer_of(module)


def test_no_import_runs_back_up(graph):
    bad = upward_imports(graph)
    assert not bad, "imports that run back up the pipeline:\n" + "\n".join(map(str, bad))


def test_no_import_circles(graph):
    found = cycles(graph)
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_render_imports_nothing_from_cluster(graph):
    assert not [imp for imp in graph if imp.importer.startswith("ffn_render.render")
                and imp.imported.startswith("ffn_render.cluster")]


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_an_injected_upward_import_and_a_hidden_circle_are_caught(tmp_path):
    root = write_tree(tmp_path, {
        "ffn_render/__init__.py": "",
        "ffn_render/render/__init__.py": "",
        "ffn_render/render/pipeline.py": "def render():\n    from ..cluster.shards import select_shard\n",
        "ffn_render/cluster/__init__.py": "from . import shards\n",
        "ffn_render/cluster/shards.py": "",
        "ffn_render/params/prior.py": "from ffn_render.appearance import camera\n",
        "ffn_render/appearance/camera.py": "",
        "models/decflow/decflow.py": "from .dad_encoder import DADEncoder\n",
        "models/decflow/dad_encoder.py": "def load():\n    from .checkpoint import read_state_dict\n",
        "models/decflow/checkpoint.py": "from .decflow import DecFlow\n",
    })
    graph = import_graph(root)
    assert {str(imp) for imp in upward_imports(graph)} == {
        "ffn_render.render.pipeline (line 2) imports ffn_render.cluster.shards",
        "ffn_render.params.prior (line 1) imports ffn_render.appearance.camera",
    }
    assert cycles(graph) == [["models.decflow.checkpoint", "models.decflow.dad_encoder", "models.decflow.decflow"]]
    with pytest.raises(LookupError, match="ffn_render.newstage is in no layer"):
        layer_of("ffn_render.newstage")


def test_imports_down_and_within_a_stage_are_allowed(tmp_path):
    root = write_tree(tmp_path, {
        "ffn_render/errors.py": "",
        "ffn_render/cluster/runner.py": "from ..render import pipeline\nfrom . import shards\nfrom ..errors import X\n",
        "ffn_render/cluster/shards.py": "",
        "ffn_render/render/pipeline.py": "import ffn_render.dataset.layout\n",
        "ffn_render/dataset/layout.py": "",
        "models/decflow/train.py": "from ffn_render.cluster import runner\n",
    })
    graph = import_graph(root)
    assert len(graph) == 5 and not upward_imports(graph) and not cycles(graph)
