"""Worker loop for a Blender binary: ``blender -b --factory-startup -P blender_scripts/worker.py -- --expect 5.0``.

Reads one JSON message per stdin line and answers each with one
``protocol.REPLY_PREFIX`` line on stdout:

    {"cmd": "start", "settings": {...}}                  → {"ok": true, "info": {...}}
    {"cmd": "sequence", "job": {...}, "arrays": "x.npz"} → {"ok": true, "result": {...}}
    {"cmd": "quit"}                                      → (exits)

Failures answer {"ok": false, "error": "<one line>"} and the loop goes on,
so the pipeline decides whether to stop.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

# Blender runs this file as a script: make the package it belongs to importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from blender_scripts.protocol import PROTOCOL_VERSION, RenderSettings, SequenceJob, encode_reply  # noqa: E402
from blender_scripts.scene import HeadScene, SceneError  # noqa: E402


def _reply(message: dict) -> None:
    sys.stdout.write(encode_reply(message))
    sys.stdout.flush()


def _handle(scene: HeadScene | None, message: dict) -> tuple[HeadScene | None, dict]:
    command = message.get("cmd")
    if command == "start":
        scene = HeadScene(RenderSettings.from_json(message["settings"]))
        return scene, {"ok": True, "info": scene.info()}
    if command == "sequence":
        if scene is None:
            raise SceneError("'sequence' before 'start'")
        with np.load(message["arrays"], allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        return scene, {"ok": True, "result": scene.run_sequence(SequenceJob.from_json(message["job"]), arrays)}
    if command == "counts":
        if scene is None:
            raise SceneError("'counts' before 'start'")
        return scene, {"ok": True, "result": scene.datablock_counts()}
    raise SceneError(f"unknown command {command!r}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="worker.py")
    parser.add_argument("--expect", required=True, help="Blender major.minor the pipeline was built for")
    parser.add_argument("--protocol", type=int, default=PROTOCOL_VERSION)
    args = parser.parse_args(argv)
    running = "%d.%d" % tuple(bpy.app.version[:2])
    if running != args.expect or args.protocol != PROTOCOL_VERSION:
        _reply({"ok": False, "error": f"Blender {bpy.app.version_string} with worker protocol {PROTOCOL_VERSION}; "
                                      f"the pipeline needs Blender {args.expect} and protocol {args.protocol}"})
        return 1
    _reply({"ok": True, "ready": True, "blender_version": bpy.app.version_string})
    scene = None
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        if message.get("cmd") == "quit":
            break
        try:
            scene, reply = _handle(scene, message)
        except SceneError as exc:
            reply = {"ok": False, "error": str(exc)}
        except Exception as exc:  # report anything else too, or the pipeline waits forever
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        _reply(reply)
    return 0


if __name__ == "__main__":
    arguments = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    sys.exit(main(arguments))
