"""Keep secrets out of what a run writes: the saved Hydra config, the overrides and the logs.

Keys belong in the environment (``judge.api_key_env`` names the variable; ``${oc.env:HF_TOKEN}`` in a
config stays an unresolved interpolation in the saved copy). When a user still puts a literal secret
on the command line, e.g. ``judge.launch.env.HF_TOKEN=hf_...``, Hydra has already written it to
``.hydra/`` before rlaif runs: :func:`redact_saved_config` rewrites those files and
:class:`RedactingFilter` masks the same values in every log line.

What counts as a secret value: every literal string of at least :data:`MIN_SECRET_LEN` characters
under a ``launch.env`` mapping or under a key whose name looks secret (``*key*``, ``*token*``,
``*secret*``, ``*password*``, ...), and the value of every environment variable whose name looks
secret. Shorter values (``"1"``, ``"true"``) are left alone: masking them would mangle every file.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

MASK = "***"
MIN_SECRET_LEN = 6
_SECRET_NAME = re.compile(r"key|token|secret|passw|credential|auth", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """A config key or variable name that holds a secret (``api_key_env`` holds a *name*: not secret)."""
    return bool(_SECRET_NAME.search(name)) and not name.lower().endswith("_env")


def secret_values(cfg: DictConfig | Mapping[str, Any], environ: Mapping[str, str] | None = None) -> set[str]:
    """Every literal secret in the config (unresolved: interpolations are not secrets) and the environment."""
    container = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, DictConfig) else cfg
    found = set(_walk(container, secret=False))
    env = os.environ if environ is None else environ
    found.update(value for name, value in env.items() if looks_secret(name) and len(value) >= 8)
    return {v for v in found if len(v) >= MIN_SECRET_LEN and not v.startswith("${")}


def _walk(node: Any, secret: bool, parent: str = "") -> Iterable[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            inside_env = str(key) == "env" and parent == "launch"
            names_a_variable = str(key).lower().endswith("_env")  # auth.api_key_env: a name, even under auth
            yield from _walk(value, (secret or inside_env or looks_secret(str(key))) and not names_a_variable, str(key))
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _walk(value, secret, parent)
    elif secret and isinstance(node, str):
        yield node


def redact(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a secret that contains another is masked whole.
    for value in sorted(secrets, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def redact_saved_config(folder: Path, secrets: set[str]) -> None:
    """Mask secrets in Hydra's saved ``config.yaml``, ``hydra.yaml`` and ``overrides.yaml``."""
    if not secrets or not folder.is_dir():
        return
    for path in folder.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        masked = redact(text, secrets)
        if masked != text:
            path.write_text(masked, encoding="utf-8")


class RedactingFilter(logging.Filter):
    """Masks secret values in a log record's final message (attach it to handlers, not loggers, so
    records from every library's logger pass through it)."""

    def __init__(self, secrets: set[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = redact(message, self.secrets)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            # The formatter renders the traceback itself: render it here, masked, and drop the original.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
            record.exc_info = None
        return True


def install_log_redaction(secrets: set[str]) -> None:
    """Attach a :class:`RedactingFilter` to every handler of the root logger (Hydra's console and file)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(secrets))
