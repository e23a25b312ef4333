"""Package extras: the module → extra table agrees with setup.cfg and the installed metadata, and a
command whose extra is missing says which to install, in one line, through the real entry point."""

from __future__ import annotations

import configparser
import functools
import os
import re
import subprocess
from importlib.metadata import distribution
from pathlib import Path

import pytest

from ffn_render.extras import EXTRAS_OF_MODULE, missing_extra_message

SETUP_CFG = Path(__file__).resolve().parents[1] / "setup.cfg"


def setup_cfg_extras() -> dict[str, set[str]]:
    """Extra → normalised distribution names, from setup.cfg (self-references like ffn_render[...] left out)."""
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG)
    extras = {}
    for extra, text in parser["options.extras_require"].items():
        names = {re.split(r"[<>=!;\[ ]", line.strip(), maxsplit=1)[0] for line in text.splitlines()}
        extras[extra] = {normalise(n) for n in names if n and not n.startswith("#") and n != "ffn_render"}
    return extras


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def top_level_modules(name: str) -> set[str]:
    """Top-level modules the installed distribution ``name`` holds, from its RECORD (unlike importlib's
    packages_distributions this sees extension modules such as OpenEXR's)."""
    files = distribution(name).files or []
    return {f.parts[0].split(".")[0] for f in files if f.parts[0] != ".." and not f.parts[0].endswith(".dist-info")}


@functools.cache
def extra_modules() -> dict[str, set[str]]:
    """Extra → the top-level modules its requirements install here."""
    return {extra: set().union(*(top_level_modules(n) for n in names)) for extra, names in setup_cfg_extras().items()}


def test_every_mapped_module_is_installed_by_exactly_the_extras_named():
    """setup.cfg says which distributions an extra installs, their metadata which modules those hold."""
    for module, named in EXTRAS_OF_MODULE.items():
        listing = {extra for extra, modules in extra_modules().items() if module in modules}
        assert listing == set(named), (module, listing)


def test_every_extra_requirement_provides_a_mapped_module():
    for extra, names in setup_cfg_extras().items():
        for name in names:
            if extra != "test":
                assert top_level_modules(name) & set(EXTRAS_OF_MODULE), (extra, name, top_level_modules(name))


def test_all_is_every_extra_but_test():
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG)
    section = parser["options.extras_require"]
    listed = set(re.fullmatch(r"ffn_render\[(.*)\]", section["all"].strip()).group(1).split(","))
    assert listed == set(section) - {"all", "test"}


def test_the_message_names_the_extra_and_prefers_the_asked_one():
    exc = ModuleNotFoundError("No module named 'torch.nn'", name="torch.nn")
    assert "pip install 'ffn_render[render]' (also in [train])" in missing_extra_message(exc)
    assert "pip install 'ffn_render[train]' (also in [render])" in missing_extra_message(exc, preferred="train")
    assert missing_extra_message(ModuleNotFoundError("x", name="not_an_extra")) is None


BLOCKER = """
import importlib.abc, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Hide())
"""


@pytest.mark.parametrize("hidden, args", [
    ({"OpenEXR"}, ["render", "--help"]),  # missing when the stage's module is imported
    ({"smplx"}, ["sequence", "--n", "3", "--count", "2", "--export-meshes", "meshes", "--out", "specs"]),  # when run
])
def test_the_console_entry_point_names_the_missing_extra(tmp_path, hidden, args):
    """`ffn-render` with one optional package hidden (a sitecustomize that refuses to import it)."""
    (tmp_path / "sitecustomize.py").write_text(BLOCKER.format(hidden=hidden))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "FFN_RENDER_CACHE": os.environ.get("FFN_RENDER_CACHE", "")}
    env = {k: v for k, v in env.items() if v}
    result = subprocess.run(["ffn-render", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "pip install 'ffn_render[render]'" in last, result.stderr
