"""The one resolver for ``packaged:`` names: what rlaif ships inside its wheel.

``packaged:NAME`` means a prompt set (``rlaif/data/prompts/NAME.jsonl``) where a dataset is expected, and
a labelled set (``rlaif/data/labelled/NAME.jsonl``) where ``labelled`` is expected; the packaged model
alias (``packaged:smollm2-135m-instruct``) is resolved by :mod:`rlaif.data.models`, which converts it once.
Anything without the prefix is a path of the user's, ``~`` expanded.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Literal

PREFIX = "packaged:"
Kind = Literal["prompts", "labelled"]


def is_packaged(name: str) -> bool:
    return name.startswith(PREFIX)


def packaged_file(kind: Kind, name: str) -> Path:
    """Path of the packaged ``kind`` set ``name`` (with or without the ``packaged:`` prefix)."""
    return Path(str(files("rlaif.data") / kind / f"{name.removeprefix(PREFIX)}.jsonl"))


def resolve(kind: Kind, name: str) -> Path:
    """A ``packaged:`` name as the shipped file of that kind; anything else as the user's path."""
    return packaged_file(kind, name) if is_packaged(name) else Path(name).expanduser()
