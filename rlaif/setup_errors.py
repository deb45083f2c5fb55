"""How an entry point (train, evaluate, judge_eval) ends when it cannot start: the exit-code contract.

Exit 2: bad input (a dataset, config key or value, rubric or path the user gave) — one line naming the
file, line or key, and nothing of this invocation is left behind. Exit 1: anything else (a judge that
does not answer, out of memory, a model that will not load) — one line, the traceback in ``FAILED``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.errors import HydraException, InstantiationException
from omegaconf.errors import OmegaConfBaseException

from rlaif.config_checks import ConfigError
from rlaif.data import DataError
from rlaif.models import ModelNotFoundError
from rlaif.rewards.rubric_spec import RubricError
from rlaif.run_folder import mark_failed, remove_created

EXIT_BAD_INPUT = 2
EXIT_ERROR = 1

# Problems with the user's input, reported in one line (no traceback).
INPUT_ERRORS = (DataError, RubricError, ConfigError, ModelNotFoundError, OmegaConfBaseException, HydraException)


def is_input_error(exc: BaseException) -> bool:
    """Bad input rather than a broken environment (Hydra wraps a constructor's ValueError: a bad value)."""
    if isinstance(exc, InstantiationException):
        return isinstance(exc.__cause__, (ValueError, TypeError, KeyError, *INPUT_ERRORS))
    return isinstance(exc, INPUT_ERRORS)


def setup_failed(run_dir: Path, exc: BaseException, log: logging.Logger, what: str = "set up the run") -> int:
    """Report a failure before the work started and return the exit code (2 bad input, 1 otherwise)."""
    if is_input_error(exc):
        log.error("rlaif: %s", exc)
        remove_created(run_dir)  # only what this invocation created: never a folder that was there before
        return EXIT_BAD_INPUT
    marker = mark_failed(run_dir, exc)
    log.error("rlaif: could not %s: %s: %s (traceback in %s)", what, type(exc).__name__, exc, marker)
    return EXIT_ERROR
