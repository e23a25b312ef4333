"""What the pipeline and the Blender side exchange; shared by both, imports no bpy.

A job renders one sequence. It is a JSON-able dict plus a dict of numpy
arrays (vertices, textures); in-process the two are passed directly, to a
Blender binary the arrays travel as an ``.npz`` file and the dict as one JSON
line on the worker's stdin. The worker answers each line with one line on
stdout that starts with :data:`REPLY_PREFIX` (Blender prints its own progress
lines to stdout too; the prefix tells ours apart).

The Blender side renders into the job's ``out_dir`` under the names below;
the pipeline turns those raw renders into dataset files.
"""

from __future__ import annotations

import json

PROTOCOL_VERSION = 1
REPLY_PREFIX = "@@ffn-render-reply@@ "
IMAGE_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png"}


def beauty_name(kind: str, t: int, image_format: str) -> str:
    """Raw beauty render of frame ``t``: kind 'facial' (I_t^f) or 'head' (I_t^h)."""
    return f"{kind}_{t:04d}{IMAGE_EXTENSIONS[image_format]}"


def labels_name(t: int) -> str:
    """Multilayer EXR of the label render of frame t (Vector, Depth and region passes)."""
    return f"labels_{t:04d}.exr"


def encode_reply(reply: dict) -> str:
    return REPLY_PREFIX + json.dumps(reply) + "\n"


def decode_reply(line: str) -> dict | None:
    """The reply carried by a worker stdout line, or None for any other line."""
    if not line.startswith(REPLY_PREFIX):
        return None
    return json.loads(line[len(REPLY_PREFIX):])
