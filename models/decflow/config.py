"""Trainer settings and the two named recipes: ``release`` (the authors' public code) and ``paper`` (the text).

A recipe is a named set of setting values (``configs/decflow_{name}.yaml``
spells each out; a test keeps the files and :data:`RECIPES` equal). A run's
settings are the recipe's, then the keys of ``--config FILE``, then each
``--set KEY=VALUE``, and every value is type- and range-checked before any
work starts.

What the recipes differ in (SPEC §10):

- ``release`` — RIA1159/FacialFlowNet ``train.py`` as its README runs it.
  Stage 1 trains both decoders, ``fnet``, ``cnet``, ``att`` and
  ``change_dim`` (``res1`` is built with ``requires_grad_(False)`` and keeps
  its initialisation; the trunk is frozen) on L_f + 0.8·L_h + 1.5·L_e;
  stage 2 (``--frozen``) trains ``update_block_head`` and ``change_dim`` on
  the same loss. The model stays in ``train()`` mode, so every batch-norm
  layer (the frozen trunk's too) uses batch statistics and moves its running
  statistics. The expression term's valid mask is the head flow's. The head
  decoder starts at random when initialising from GMA (``strict=False``).
- ``paper`` — §4.3 / §5.1 as written: stage 1 trains the facial decoder
  (and everything it depends on but the trunk) on L_f; stage 2 trains the
  head decoder alone on L_h + L_e, everything else bit-identical; frozen
  batch-norm statistics; the head decoder starts as a copy of GMA's.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import yaml

from ffn_render.configio import read_yaml_mapping

from .augment import AugmentConfig
from .errors import DecFlowError
from .pretrain_semantic import SemanticPretrainConfig
from .ranges import Rule, at_least, check_ranges, each, one_of, positive

#: Model variants: the paper's DecFlow, its ablation without the semantic encoder, and the GMA baseline.
MODEL_KINDS = {
    "decflow": {"semantic_encoder": True, "decompose": True},
    "decflow-noenc": {"semantic_encoder": False, "decompose": True},
    "gma": {"semantic_encoder": False, "decompose": False},
}
#: Top-level modules of the full DecFlow that a stage may train (``stage1_modules`` / ``stage2_modules``).
MODULES = ("fnet", "cnet", "att", "update_block", "update_block_head", "dad_encoder", "change_dim", "res1")
#: Where the expression loss's valid mask comes from: the head flow (released code) or the expression target.
EXPRESSION_VALID = ("head", "expression")
#: Head decoder when starting from a one-decoder GMA checkpoint: random (released code) or a copy of the facial one.
HEAD_INITS = ("random", "facial")
#: Table header of the loss terms.
LOSS_SYMBOLS = {"facial": "L_f", "head": "L_h", "expression": "L_e"}


@dataclass(frozen=True)
class LossWeights:
    """Weights of the sequence losses on facial, head and expression flow in one stage (0: term off)."""

    facial: float = 1.0
    head: float = 0.8
    expression: float = 1.5

    def __post_init__(self) -> None:
        check_ranges(self, {name: at_least(0) for name in LOSS_SYMBOLS})

    def terms(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in LOSS_SYMBOLS if getattr(self, name) > 0}

    def describe(self) -> str:
        return " + ".join(f"{w:g}·{LOSS_SYMBOLS[name]}" for name, w in self.terms().items()) or "no loss"


@dataclass(frozen=True)
class TrainConfig:
    """Trainer settings; the built-in defaults are the ``release`` recipe."""

    model: str = "decflow"
    lr: float = 1.25e-4
    wdecay: float = 1e-5
    epsilon: float = 1e-8
    gamma: float = 0.85
    iters: int = 12
    clip: float = 1.0
    batch_size: int = 6
    stage1_steps: int = 10_000
    stage2_steps: int = 10_000
    stage1_modules: tuple[str, ...] = ("fnet", "cnet", "att", "update_block", "update_block_head", "change_dim")
    stage2_modules: tuple[str, ...] = ("update_block_head", "change_dim")
    stage1_loss: LossWeights = field(default_factory=LossWeights)
    stage2_loss: LossWeights = field(default_factory=LossWeights)
    expression_valid: str = "head"
    head_init: str = "random"
    max_flow: float = 400.0
    mask_loss: bool = False
    mixed_precision: bool = True
    freeze_bn: bool = False
    num_workers: int = 4
    checkpoint_every: int = 1000
    log_every: int = 50
    seed: int = 1234
    follow_poll_seconds: float = 60.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    semantic_pretrain: SemanticPretrainConfig = field(default_factory=SemanticPretrainConfig)

    RULES: ClassVar[dict[str, Rule]] = {
        "model": one_of(tuple(MODEL_KINDS)),
        "lr": positive(),
        "wdecay": at_least(0),
        "epsilon": positive(),
        "gamma": Rule(lambda v: 0 < v <= 1, "in (0, 1]"),
        "iters": at_least(1),
        "clip": positive(),
        "batch_size": at_least(1),
        "stage1_steps": at_least(1),
        "stage2_steps": at_least(1),
        "stage1_modules": each(one_of(MODULES)),
        "stage2_modules": each(one_of(MODULES)),
        "expression_valid": one_of(EXPRESSION_VALID),
        "head_init": one_of(HEAD_INITS),
        "max_flow": positive(),
        "num_workers": at_least(0),
        "checkpoint_every": at_least(1),
        "log_every": at_least(1),
        "seed": at_least(0),
        "follow_poll_seconds": positive(),
    }

    def __post_init__(self) -> None:
        check_ranges(self, self.RULES)
        for stage in (1, 2):
            if not self.modules(stage):
                raise DecFlowError(f"setting 'stage{stage}_modules' is empty: stage {stage} would train nothing")
            if not self.loss(stage).terms():
                raise DecFlowError(f"setting 'stage{stage}_loss' has every weight 0: stage {stage} would have no loss")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config") -> "TrainConfig":
        return _build(cls, values, source)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "TrainConfig":
        return cls.from_dict(read_yaml_mapping(path, DecFlowError, "training config"), str(path))

    @classmethod
    def recipe(cls, name: str) -> "TrainConfig":
        return cls.from_dict(recipe_values(name), f"recipe {name}")

    def steps(self, stage: int) -> int:
        return self.stage1_steps if stage == 1 else self.stage2_steps

    def modules(self, stage: int) -> tuple[str, ...]:
        return self.stage1_modules if stage == 1 else self.stage2_modules

    def loss(self, stage: int) -> LossWeights:
        return self.stage1_loss if stage == 1 else self.stage2_loss


#: Each recipe as changes to the built-in defaults (which are ``release``).
RECIPES: dict[str, dict[str, Any]] = {
    "release": {},
    "paper": {
        "lr": 1.2e-4,
        "stage1_modules": ["fnet", "cnet", "att", "update_block", "change_dim", "res1"],
        "stage2_modules": ["update_block_head"],
        "stage1_loss": {"facial": 1.0, "head": 0.0, "expression": 0.0},
        "stage2_loss": {"facial": 0.0, "head": 1.0, "expression": 1.0},
        "expression_valid": "expression",
        "head_init": "facial",
        "freeze_bn": True,
        "augment": {"crop": [384, 512], "asymmetric_prob": 0.0, "eraser_prob": 0.0, "photometric_first": False},
    },
}
RECIPE_SOURCES = {
    "release": "the authors' public code (RIA1159/FacialFlowNet train.py with its README's commands)",
    "paper": "the paper's text (§4.3, §5.1)",
}


def recipe_values(name: str) -> dict[str, Any]:
    """The full nested settings mapping of a recipe."""
    if name not in RECIPES:
        raise DecFlowError(f"recipe {name!r} unknown; choose one of {', '.join(RECIPES)}")
    return merge(settings_dict(TrainConfig()), RECIPES[name])


def settings_dict(config: Any) -> dict[str, Any]:
    """A settings dataclass as a nested mapping (tuples as lists, as YAML writes them)."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = settings_dict(value) if dataclasses.is_dataclass(value) else list(value) if isinstance(value, tuple) else value
    return out


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied; nested mappings merge key by key."""
    out = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_overrides(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``["a=1", "augment.crop=[64,64]"]`` → nested mapping of YAML values."""
    changes: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise DecFlowError(f"--set {item!r} is not KEY=VALUE")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DecFlowError(f"--set {item!r}: invalid YAML value ({str(exc).splitlines()[0]})") from None
        target = changes
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return changes


def load_config(recipe: str = "release", path: str | os.PathLike | None = None,
                overrides: tuple[str, ...] | list[str] = ()) -> TrainConfig:
    """The recipe's settings, then a YAML file's keys, then ``--set`` items; checked as a whole."""
    values = recipe_values(recipe)
    sources = [f"recipe {recipe}"]
    if path is not None:
        values = merge(values, read_yaml_mapping(path, DecFlowError, "training config"))
        sources.append(str(path))
    if overrides:
        values = merge(values, parse_overrides(overrides))
        sources.append("--set")
    return TrainConfig.from_dict(values, " + ".join(sources))


def _build(cls: type, values: Mapping[str, Any], source: str) -> Any:
    if not isinstance(values, Mapping):
        raise DecFlowError(f"{source}: expected a mapping of settings, got {values!r}")
    defaults = cls()
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise DecFlowError(f"{source}: unknown setting {unknown[0]!r} (known: {', '.join(names)})")
    kwargs = {}
    for name, value in values.items():
        default = getattr(defaults, name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{source}: {name}")
            continue
        try:
            kwargs[name] = _coerce(default, value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise DecFlowError(f"{source}: setting {name!r} = {value!r} is invalid ({exc})") from None
    try:
        return cls(**kwargs)
    except DecFlowError as exc:
        raise DecFlowError(f"{source}: {exc}") from None


def _coerce(default: Any, value: Any) -> Any:
    """``value`` as the type of ``default``; integers must be whole, booleans are never numbers."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError("expected true or false")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)):
            raise TypeError("expected a list")
        example = default[0] if default else ""
        return tuple(_coerce(example, v) for v in value)
    if isinstance(default, float) and isinstance(value, str):
        value = float(value)  # YAML reads 1e-4 (no dot) as a string
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("expected a number")
        if isinstance(default, int):
            if value != int(value):
                raise ValueError("expected a whole number")
            return int(value)
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise TypeError("expected a name")
        return value
    return value
