"""The exception DecFlow's commands raise for a model, checkpoint or input they cannot use.

Dataset layout problems raise :class:`ffn_render.errors.DatasetError`
instead, the same type the dataset verifier uses.
"""

from ffn_render.errors import FFNError


class DecFlowError(FFNError):
    """A checkpoint of the wrong architecture, an unusable input image or video, a bad config."""
