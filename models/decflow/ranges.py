"""Range rules of the trainer's settings, checked when a settings dataclass is built (before any work).

Each settings dataclass lists ``{field: Rule}``; :func:`check_ranges` raises
one :class:`DecFlowError` naming the first setting out of range, so a bad
``--set batch_size=-3`` fails at once instead of after the semantic
pre-training.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .errors import DecFlowError


@dataclass(frozen=True)
class Rule:
    """A predicate on one setting's value and the words that state it ("≥ 1", "in [0, 1]")."""

    holds: Callable[[Any], bool]
    text: str


def at_least(low: float) -> Rule:
    return Rule(lambda v: v >= low, f"≥ {low:g}")


def positive() -> Rule:
    return Rule(lambda v: v > 0, "> 0")


def probability() -> Rule:
    return Rule(lambda v: 0.0 <= v <= 1.0, "in [0, 1]")


def one_of(choices: tuple[str, ...]) -> Rule:
    return Rule(lambda v: v in choices, f"one of {', '.join(choices)}")


def each(rule: Rule, length: int | None = None) -> Rule:
    """Every element of a tuple obeys ``rule`` (and the tuple has ``length`` elements)."""
    count = "" if length is None else f"{length} values, "
    return Rule(lambda v: (length is None or len(v) == length) and all(rule.holds(x) for x in v), f"{count}each {rule.text}")


def check_ranges(settings: Any, rules: Mapping[str, Rule]) -> None:
    """Raise DecFlowError for the first field of ``settings`` that is not finite or breaks its rule."""
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        numbers = value if isinstance(value, tuple) else (value,)
        if any(isinstance(x, float) and not math.isfinite(x) for x in numbers):
            raise DecFlowError(f"setting {field.name!r} = {value!r} is invalid (must be a finite number)")
        rule = rules.get(field.name)
        if rule is not None and not rule.holds(value):
            raise DecFlowError(f"setting {field.name!r} = {_show(value)} is invalid (must be {rule.text})")


def _show(value: Any) -> str:
    return f"[{', '.join(repr(v) for v in value)}]" if isinstance(value, tuple) else repr(value)
