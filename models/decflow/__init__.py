"""DecFlow: decomposed facial optical flow (FacialFlowNet paper §4), its trainer, evaluation and inference.

    from models.decflow import DecFlow, load_checkpoint
    model = DecFlow()                                  # full, checkpoint-compatible model
    result = load_checkpoint(model, "gma-sintel.pth")  # GMA, public DecFlow or own weights
    result.missing, result.unexpected
"""

from .checkpoint import LoadResult, load_checkpoint, load_model, save_checkpoint
from .decflow import DecFlow, FlowPredictions, gma_baseline
from .errors import DecFlowError

__all__ = [
    "DecFlow",
    "DecFlowError",
    "FlowPredictions",
    "LoadResult",
    "gma_baseline",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
]
