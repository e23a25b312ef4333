"""Exception types, one per stage, each carrying a message a user can act on.

The CLI turns any :class:`FFNError` into a single line on stderr and a
non-zero exit status, so messages name the file and the problem.
"""


class FFNError(Exception):
    """Base class of every error the pipeline reports to the user."""


class FaceModelError(FFNError):
    """A face-model file is missing, corrupt, unsafe or inconsistent."""


class ParamsError(FFNError):
    """A parameter source or parameter table is invalid."""


class SequenceError(FFNError):
    """Sequence construction was asked for something impossible."""


class AppearanceError(FFNError):
    """A texture, background or UV layout cannot be used."""


class RenderError(FFNError):
    """Rendering could not be set up or carried out."""


class DatasetError(FFNError):
    """A dataset on disk violates the layout contract (SPEC §2-§3)."""


class ClusterError(FFNError):
    """Sharding, scheduling or manifest problems."""
