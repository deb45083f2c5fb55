"""How every entry point ends: the exit codes, the error types that mean "bad input", and the one wrapper.

- Exit 2: bad input, an :class:`InputError` (a dataset, config key or value, rubric, model path or run
  folder the user gave): one line naming the file, line or key, no traceback, and nothing this
  invocation created is left behind. Raised inside a constructor Hydra called, it is shown alone, without
  Hydra's ``Error in call to target`` wrapping.
- Exit 3: the judge failed its evaluation (``judge_eval``, or ``train`` with ``preflight=true``).
- Exit 4: ``python -m rlaif.monitor`` found an alarm (a finding, not a failure: distinct from 1, a crash).
- Exit 1: anything else: a bug, a judge that does not answer, out of memory. One line on the console;
  the traceback in the run folder's ``FAILED``. A ``ValueError`` or ``TypeError`` from a bug is not bad
  input, inside a constructor Hydra called too: only an :class:`InputError`, Hydra's own config errors, or
  config keys that do not fit the target's signature exit 2. A deliberate stop (:class:`RunStoppedError`)
  exits 1 too; its ``FAILED`` holds the reason and the resume command, not a traceback.

The lowest layer of rlaif: it imports nothing from the package, so every layer can raise these.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

Settings = TypeVar("Settings")

EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_THRESHOLDS_FAILED = 3  # distinct from 1 and 2: a gate for scripts
EXIT_ALARM_FOUND = 4  # python -m rlaif.monitor: the run has an alarm (1 stays a crash)


class InputError(Exception):
    """Input the user can fix; the message names the file, line or config key. Exit 2."""


class ConfigError(InputError, ValueError):
    """A config value or key is wrong; the message names the key."""


class DataError(InputError, ValueError):
    """A dataset file is malformed; the message names the file and line."""


class RubricError(InputError, ValueError):
    """A rubric is malformed; the message names the rubric and the field."""


class NotARunError(InputError, ValueError):
    """A folder given as a training run holds none of what a run writes (``python -m rlaif.report``, ``python -m
    rlaif.monitor``: exit 2)."""


class ModelNotFoundError(InputError, RuntimeError):
    """A model named in the config (or the packaged default) is not on this machine."""


class JudgeRejectedError(RuntimeError):
    """The judge failed a threshold of its evaluation: nothing was trained (exit 3)."""


class RunStoppedError(RuntimeError):
    """A run stopped early on purpose (the judge failed too often, or an alarm under ``on_alarm=stop``); its
    message begins with :data:`STOPPED` and says why and how to resume. Not a crash: no traceback is kept."""


STOPPED = "run stopped: "  # how a deliberate stop's message, and so its FAILED, begins (the report reads it)


def plain(value: Any) -> Any:
    """A Hydra node as the plain dicts and lists it holds, interpolations resolved (anything else as it is)."""
    from omegaconf import Container, OmegaConf

    return OmegaConf.to_container(value, resolve=True) if isinstance(value, Container) else value


def parse_settings(model: type[Settings], values: Mapping[Any, Any], key: str) -> Settings:
    """``values`` (a config group, as a plain mapping) checked against ``model`` (a pydantic model, or a
    dataclass with a ``__pydantic_config__``) and built from them: the one
    way rlaif checks its own settings. Every wrong key, type or range is named at once, by its full path
    (``judge_eval.repeats.k: ...``), in one :class:`ConfigError`. Unknown keys are errors too (models
    forbid extras), so a typo is not silently ignored."""
    from pydantic import TypeAdapter, ValidationError

    values = {str(k): plain(v) for k, v in dict(plain(values)).items()}
    try:
        return TypeAdapter(model).validate_python(values)
    except ValidationError as exc:
        problems: dict[str, list[str]] = {}  # key path -> what is wrong with it
        given: dict[str, Any] = {}
        for error in exc.errors():
            keys = _keys_in(values, error["loc"])  # a union's members add tags to the path: keep real keys only
            path = ".".join(str(part) for part in (key, *keys) if part != "")
            problems.setdefault(path, []).append(f"{error['msg'][0].lower()}{error['msg'][1:]}")
            if error["type"] != "missing":
                given[path] = error["input"]
        raise ConfigError(
            "; ".join(
                f"{path}: {' or '.join(what)}" + (f", got {given[path]!r}" if path in given else "")
                for path, what in problems.items()
            )
        ) from None


def _keys_in(values: Any, loc: tuple[Any, ...]) -> list[Any]:
    """The leading part of a pydantic error location that names keys of ``values`` (or new keys)."""
    keys: list[Any] = []
    for part in loc:
        if (isinstance(values, Mapping) and part in values) or (
            isinstance(values, list) and isinstance(part, int) and part < len(values)
        ):
            values = values[part]
        elif not keys or isinstance(values, Mapping):  # an unknown key of a mapping: name it
            keys.append(part)
            break
        else:
            break
        keys.append(part)
    return keys


# What Python says when call arguments do not bind to a signature (the config named a key the target lacks).
_SIGNATURE_MISMATCH = re.compile(r"unexpected keyword argument|missing \d+ required (positional|keyword-only) argument")


def is_input_error(exc: BaseException) -> bool:
    """Bad input rather than a bug or a broken environment.

    Hydra reports a bad config through its own exceptions, and wraps a constructor's exception in an
    ``InstantiationException``: that one is bad input when the cause is an :class:`InputError`, or when the
    config's keys do not fit the ``_target_``'s signature (``+reward.foo=1``: a key the class does not take).
    A ``TypeError`` raised by the constructor's own code is a bug, whatever its message.
    """
    from hydra.errors import HydraException, InstantiationException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, InstantiationException):
        cause = exc.__cause__
        if isinstance(cause, TypeError) and _SIGNATURE_MISMATCH.search(str(cause)):
            return _raised_at_the_call(cause)
        return cause is not None and is_input_error(cause)
    return isinstance(exc, (InputError, OmegaConfBaseException, HydraException))


def _raised_at_the_call(exc: BaseException) -> bool:
    """Python raised ``exc`` while binding a call's arguments: before the callee's code ran, so its traceback
    (from the frame that caught it: Hydra's call of the target) has no deeper frame. One raised by code inside
    the constructor has that code's frames."""
    tb = exc.__traceback__
    return tb is not None and tb.tb_next is None


def one_line(exc: BaseException) -> str:
    """What the console shows of ``exc``: an error raised inside a constructor Hydra called without Hydra's
    multi-line ``Error in call to target`` wrapping: an :class:`InputError` alone (its message names the key),
    anything else after the config key Hydra was building (``reward: TypeError: ...``)."""
    from hydra.errors import InstantiationException

    if isinstance(exc, InstantiationException) and exc.__cause__ is not None:
        cause = exc.__cause__
        if isinstance(cause, InputError | InstantiationException):
            return one_line(cause)
        key = re.search(r"^full_key: (\S+)$", str(exc), re.MULTILINE)
        what = str(cause) if is_input_error(exc) else f"{type(cause).__name__}: {cause}"
        return f"{key.group(1)}: {what}" if key else what
    return str(exc) if is_input_error(exc) or isinstance(exc, RunStoppedError) else f"{type(exc).__name__}: {exc}"


def mark_failed(run_dir: Path, exc: BaseException) -> Path:
    """Leave ``FAILED`` so the folder cannot pass for a finished run: a crash's error and traceback, or a
    deliberate stop's reason and resume command (its traceback would only show rlaif's own raise)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    marker = run_dir / "FAILED"
    stopped = isinstance(exc, RunStoppedError)
    marker.write_text(f"{exc}\n" if stopped else "".join(traceback.format_exception(exc)))
    return marker


def exit_code(
    exc: BaseException, run_dir: Path, log: logging.Logger, remove_created: Callable[[Path], None] | None = None
) -> int:
    """Report ``exc`` in one line and return its exit code; the traceback goes to ``FAILED`` (exit 1 only).

    ``remove_created`` clears what this invocation created in ``run_dir`` when the input was bad.
    """
    if isinstance(exc, JudgeRejectedError):
        log.error("rlaif: %s", exc)
        return EXIT_THRESHOLDS_FAILED
    if is_input_error(exc):
        log.error("rlaif: %s", one_line(exc))
        if remove_created is not None:
            remove_created(run_dir)  # only what this invocation created: never a folder that was there before
        return EXIT_BAD_INPUT
    marker = mark_failed(run_dir, exc)
    if isinstance(exc, RunStoppedError):
        log.error("rlaif: %s (details in %s)", exc, marker)
    else:
        log.error("rlaif: %s (traceback in %s)", one_line(exc), marker)
    return EXIT_ERROR


@contextmanager
def entry_point(
    run_dir: Path, log: logging.Logger, remove_created: Callable[[Path], None] | None = None
) -> Iterator[None]:
    """The one wrapper of every entry point: an exception becomes its exit code (see the module's doc).

    Pass ``remove_created`` only for the set-up phase: once training has written checkpoints, nothing is
    removed. Ctrl-C leaves ``FAILED`` (the folder is not a finished run) and passes through; so does
    ``SystemExit``.
    """
    try:
        yield
    except KeyboardInterrupt as exc:
        mark_failed(run_dir, exc)
        raise
    except Exception as exc:
        sys.exit(exit_code(exc, run_dir, log, remove_created))
