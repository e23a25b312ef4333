"""Parameter sources → one parameter table: the prior sampler and the EMOCA/AffectNet import."""

from .emoca import import_emoca
from .prior import PriorConfig, sample_prior
from ..vocabulary import EMOTIONS
from .records import ParamRecord, check_records_against_model, read_param_table, write_param_table

__all__ = [
    "EMOTIONS",
    "ParamRecord",
    "PriorConfig",
    "check_records_against_model",
    "import_emoca",
    "read_param_table",
    "sample_prior",
    "write_param_table",
]
