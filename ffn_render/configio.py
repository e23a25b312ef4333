"""Reading YAML configs into typed dataclasses, with errors that name the file and the key."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, TypeVar

import yaml

from .errors import FFNError

T = TypeVar("T")


def read_yaml_mapping(path: str | os.PathLike, error: type[FFNError], what: str) -> dict[str, Any]:
    """The mapping at the top of a YAML file ({} for an empty file).

    A missing or unreadable file, invalid YAML or a top level that is not a
    mapping raises ``error`` naming the file.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {what} is not a UTF-8 text file (byte {exc.start} is 0x{exc.object[exc.start]:02x})") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: invalid YAML in {what} ({str(exc).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise error(f"{path}: a {what} must be a mapping of settings")
    return dict(data)


def dataclass_from_mapping(cls: type[T], mapping: Mapping[str, Any] | None, error: type[FFNError], source: str, what: str) -> T:
    """``cls(**mapping)``, refusing keys the dataclass does not have (they are usually typos)."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, Mapping):
        raise error(f"{source}: {what} settings must be a mapping")
    unknown = sorted(set(mapping) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise error(f"{source}: unknown {what} setting(s) {', '.join(unknown)}")
    return cls(**mapping)
