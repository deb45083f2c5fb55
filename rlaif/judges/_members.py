"""Building a judge made of judges (a jury's members, a pool's endpoints) from Hydra configs: each part is
built by its parent, with its own limits, and its cache goes under the parent's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from rlaif.errors import ConfigError, plain


def member_policy(own: Any, parent: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A part's ``policy``: no cache when the parent's ``cache`` is false; else, without a cache path of its
    own, ``<parent cache_path>/<name>``, so that parts never share entries."""
    policy = dict(own or {})
    if parent.get("cache") is False:
        policy["cache"] = False
    elif policy.get("cache", True) and not policy.get("cache_path") and parent.get("cache_path"):
        policy["cache_path"] = f"{parent['cache_path']}/{name}"
    return policy


def build_part(config: Mapping[str, Any], key: str, where: str) -> Any:
    """Instantiate one part from its judge config. A bad setting of its own, which its factory names as if it
    were the whole judge (``judge.api_key_env``), is named where it is (``<key>.api_key_env``), after ``where``."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(dict(config), _convert_="all")
    except InstantiationException as exc:
        cause = exc.__cause__
        if not isinstance(cause, ConfigError):
            raise
        message = str(cause)
        message = f"{key}.{message[len('judge.') :]}" if message.startswith("judge.") else f"{key}: {message}"
        raise ConfigError(f"{where}: {message}" if where != key else message) from cause


def build_endpoints(endpoints: Any, endpoint: Any, pool_policy: Mapping[str, Any]) -> dict[str, Any]:
    """A pool's endpoints, by name, from ``judge.endpoints`` and the ``judge.endpoint`` template (see
    :func:`rlaif.judges.pool.pool_judge`). Every endpoint is checked before any is built."""
    configs = plain(endpoints)
    if isinstance(configs, str):  # "URL,URL": what the launch scripts export as RLAIF_JUDGE_ENDPOINTS
        configs = [url.strip() for url in configs.split(",") if url.strip()]
    if not isinstance(configs, list) or not configs:
        raise ConfigError(f"judge.endpoints: expected a non-empty list of base URLs or judge configs, got {configs!r}")
    template = dict(plain(endpoint) or {})
    parts: dict[str, tuple[dict[str, Any], str, str]] = {}
    for k, raw in enumerate(configs):
        config, key = _endpoint_config(k, raw, template)
        name = str(config.pop("name", None) or f"e{k + 1}")
        if name in parts:
            raise ConfigError(f"judge.endpoints[{k}]: the name {name!r} is used twice")
        config["policy"] = member_policy(config.get("policy"), pool_policy, name)
        parts[name] = (config, key, f"judge.endpoints[{k}]")
    built: dict[str, Any] = {}
    try:
        for name, (config, key, where) in parts.items():
            built[name] = build_part(config, key, where)
    except BaseException:
        for judge in built.values():
            judge.close()
        raise
    return built


def _endpoint_config(k: int, raw: Any, template: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """One endpoint's judge config, and the key its settings are found under."""
    if isinstance(raw, str):
        if "_target_" not in template:
            raise ConfigError(f"judge.endpoints[{k}] is a URL: judge.endpoint must be a judge config with a _target_")
        return {**template, "base_url": check_url(raw, f"judge.endpoints[{k}]")}, "judge.endpoint"
    if isinstance(raw, dict) and "_target_" in raw:
        if raw["_target_"].endswith((".pool_judge", ".jury_judge")):
            raise ConfigError(f"judge.endpoints[{k}]: an endpoint is one judge, not a pool or a jury")
        return dict(raw), f"judge.endpoints[{k}]"
    raise ConfigError(f"judge.endpoints[{k}]: expected a base URL or a judge config with a _target_, got {raw!r}")


def check_url(url: str, key: str) -> str:
    """``url`` if it is an http(s) URL with a host (a server's base URL), else a :class:`ConfigError` naming ``key``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"{key}: {url!r} is not a base URL ({exc}); expected e.g. http://127.0.0.1:8000/v1") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key}: {url!r} is not a base URL; expected e.g. http://127.0.0.1:8000/v1")
    return url
