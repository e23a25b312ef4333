"""Code that runs inside Blender: the persistent render scene and the worker loop.

Imports only what Blender's own Python has (bpy, mathutils, numpy, the
standard library), so the same files serve the pip ``bpy`` module in-process
and a Blender binary (``blender -b -P blender_scripts/worker.py``).

- :mod:`.scene`    builds the scene once and renders one sequence per job
- :mod:`.devices`  picks the Cycles device (CPU, CUDA, OptiX, HIP, Metal, oneAPI)
- :mod:`.head_denoise` OpenImageDenoise on the head's box only (compositor; ``denoise_region: head``)
- :mod:`.protocol` the job / reply messages between the pipeline and a Blender binary
- :mod:`.worker`   the loop a Blender binary runs (``-P worker.py``)
"""
