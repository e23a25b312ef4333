"""Every command and subcommand answers --help with a description."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import numpy as np
import pytest
from click.testing import CliRunner

from ffn_render.cli import SUBCOMMANDS, cli


def walk(command: click.Command, path: tuple[str, ...], ctx: click.Context):
    yield path, command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            yield from walk(command.get_command(ctx, name), path + (name,), ctx)


def all_command_paths():
    from models.decflow.cli import main as decflow

    ctx = click.Context(cli)
    paths = [("ffn-render",) + p for p, _ in walk(cli, (), ctx)]
    paths += [("decflow",) + p for p, _ in walk(decflow, (), click.Context(decflow))]
    return paths


@pytest.mark.parametrize("path", all_command_paths(), ids=" ".join)
def test_every_command_has_help(path):
    from models.decflow.cli import main as decflow

    group = cli if path[0] == "ffn-render" else decflow
    result = CliRunner().invoke(group, list(path[1:]) + ["--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    description = result.output.split("Options:")[0].split("\n", 2)[-1].strip()
    assert len(description) > 20, f"{' '.join(path)} has no description"


def test_subcommand_table_is_complete():
    assert {"params", "sequence", "verify", "preview", "flame", "preview-head"} <= set(SUBCOMMANDS)


def test_pipeline_error_is_one_line_and_nonzero(tmp_path):
    missing = tmp_path / "absent.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "ffn_render", "sequence", "--params", str(missing), "--out", str(tmp_path / "specs")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(missing) in lines[0], result.stderr
    assert not (tmp_path / "specs").exists()


def run_sequence(args, tmp_path):
    return subprocess.run([sys.executable, "-m", "ffn_render.sequence", *args, "--out", str(tmp_path / "specs")],
                          capture_output=True, text=True)


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("n", ["1", "0", "ten"])
def test_sequence_rejects_too_few_frames(tmp_path, n):
    assert "n" in one_error_line(run_sequence(["--n", n, "--count", "2"], tmp_path))
    assert not (tmp_path / "specs").exists()


@pytest.mark.parametrize("bad", ["NaN", "Infinity"])
def test_sequence_rejects_non_finite_parameters(tmp_path, bad):
    from ffn_render.facemodel import load_face_model
    from ffn_render.params.prior import sample_prior
    from ffn_render.params.records import write_param_table

    table = tmp_path / "params.jsonl"
    write_param_table(table, sample_prior(3, 0, load_face_model("ffn-head")))
    lines = table.read_text().splitlines()
    record = json.loads(lines[1])
    record["psi"][0] = bad
    lines[1] = json.dumps(record).replace(f'"{bad}"', bad)
    table.write_text("\n".join(lines) + "\n")
    assert "params.jsonl" in one_error_line(run_sequence(["--params", str(table)], tmp_path))
    assert not (tmp_path / "specs").exists()


@pytest.mark.parametrize("fmt", ["obj", "ply"])
def test_sequence_exports_every_frame_mesh(tmp_path, fmt):
    from ffn_render.facemodel import load_face_model

    result = run_sequence(["--n", "3", "--count", "2", "--export-meshes", str(tmp_path / "meshes"), "--mesh-format", fmt],
                          tmp_path)
    assert result.returncode == 0, result.stderr
    model = load_face_model("ffn-head")
    files = sorted((tmp_path / "meshes").rglob(f"*.{fmt}"))
    assert len(files) == 2 * (3 + 2)  # facial t=1..3 and head t=2..3 per sequence
    text = files[0].read_text()
    if fmt == "obj":
        assert text.count("\nv ") + text.startswith("v ") == model.n_vertices
        assert text.count("\nf ") == model.faces.shape[0]
        from ffn_render.sequence import load_sequence_specs

        spec = load_sequence_specs(tmp_path / "specs")[0]
        obj = (tmp_path / "meshes" / spec.seq_id / "f_0002.obj").read_text().splitlines()
        written = np.array([[float(x) for x in line.split()[1:]] for line in obj if line.startswith("v ")])
        frame = spec.frames_f[1]  # t = 2: (2/n)·θ, (2/n)·ψ
        expected = model.forward(np.array(spec.beta), np.array(frame.theta), np.array(frame.psi))[0]
        np.testing.assert_allclose(written, expected, atol=1e-6)
    else:
        assert f"element vertex {model.n_vertices}\n" in text and f"element face {model.faces.shape[0]}\n" in text


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_command_exits_nonzero_on_bad_usage_through_the_console_script(name):
    result = subprocess.run(["ffn-render", name, "--no-such-option"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "No such option" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [
    ["ffn-render", "verify"], [sys.executable, "-m", "ffn_render", "verify"], [sys.executable, "-m", "ffn_render.dataset"],
    ["ffn-render", "status"], ["ffn-render", "preview"],
], ids=["console-script", "python-m", "stage-module", "status", "preview"])
def test_commands_on_a_folder_that_is_no_dataset_exit_nonzero(tmp_path, command):
    (tmp_path / "notes.txt").write_text("not a dataset")
    result = subprocess.run([*command, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_exit_status_a_command_asks_for_is_passed_on(monkeypatch):
    from ffn_render.console import report_errors

    @click.command()
    def fails() -> None:
        click.get_current_context().exit(3)

    with pytest.raises(SystemExit) as exited:
        report_errors(fails, [])
    assert exited.value.code == 3
