"""Run ``ffn-render render`` through its console entry point on a tiny config with one appearance setting."""

from __future__ import annotations

import subprocess
from pathlib import Path


def render_error_line(tmp_path: Path, appearance: str) -> str:
    """The one ``error:`` line of a render whose ``appearance`` mapping (YAML flow items) is bad.

    Asserts what every bad appearance input must give: a non-zero exit, exactly one error line, no traceback, and
    no frame rendered.
    """
    config = tmp_path / "config.yaml"
    config.write_text(
        "render: {width: 32, height: 32, samples: 1, denoiser: none, device: cpu}\n"
        "sequences: {count: 1, n: 2}\n"
        f"appearance: {{texture_size: 32, background_size: 32, {appearance}}}\n"
    )
    out = tmp_path / "out"
    result = subprocess.run(["ffn-render", "render", "--config", str(config), "--out", str(out)], capture_output=True, text=True)
    assert result.returncode != 0
    message = [line for line in result.stderr.replace("\r", "\n").splitlines() if line.startswith("error:")]
    assert len(message) == 1 and "Traceback" not in result.stderr, result.stderr
    assert not list(out.glob("image/**/*.jpg"))  # nothing rendered
    return message[0]
