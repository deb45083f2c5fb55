"""Provider-specific request fields a judge config adds to every request (``judge.extra_body`` for an
OpenAI-compatible server, ``judge.additional_fields`` for Bedrock Converse): checked once at set-up, and part
of the transport's identity, because they change the replies (thinking on or off, a reasoning effort), so
two judges that differ only in them must never share cached answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rlaif.errors import ConfigError


def check_extra_fields(value: Any, key: str, reserved: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``value`` (a mapping, or None for none) as a plain dict, or a :class:`ConfigError` naming ``key``.

    A key in ``reserved`` is one rlaif sets itself per request (the decoding options, the verdict
    constraint): merged in, the user's value would silently replace rlaif's, so it is refused, named
    ``<key>.<name>``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping of request fields, got {type(value).__name__} {value!r}")
    fields = {}
    for name, item in value.items():
        if not isinstance(name, str):
            raise ConfigError(f"{key}: field names must be strings, got {name!r}")
        if name in reserved:
            raise ConfigError(
                f"{key}.{name}: rlaif sets {name!r} itself on every request (the decoding options and the "
                "verdict constraint come from the reward): leave it out"
            )
        fields[name] = item
    try:
        json.dumps(fields, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: the fields must be JSON values ({exc})") from exc
    return fields


def identity_suffix(fields: Mapping[str, Any], name: str) -> str:
    """What ``fields`` add to a transport's identity: nothing when empty (so older caches stay valid)."""
    if not fields:
        return ""
    return f":{name}={json.dumps(fields, sort_keys=True, separators=(',', ':'))}"
