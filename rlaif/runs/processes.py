"""Which training process this is, asked of accelerate (the process group GRPOConfig set up), so every
module agrees with the trainer. Call only after ``GRPOConfig`` exists: accelerate's state is a singleton,
and the first to create it fixes its settings."""

from __future__ import annotations

from typing import Any


def is_main_process() -> bool:
    from accelerate import PartialState

    return bool(PartialState().is_main_process)


def process_index() -> int:
    """This process's rank among all training processes (0 for a single one)."""
    from accelerate import PartialState

    return int(PartialState().process_index)


def main_process_first() -> Any:
    """A context in which the main process runs first and the others wait for it."""
    from accelerate import PartialState

    return PartialState().main_process_first()
