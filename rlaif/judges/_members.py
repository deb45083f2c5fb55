"""Building a judge made of judges (a jury's members, a pool's endpoints) from Hydra configs: each part is
built by its parent, with its own limits, and its cache goes under the parent's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


def member_policy(own: Any, parent: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A part's ``policy``: no cache when the parent's ``cache`` is false; else, without a cache path of its
    own, ``<parent cache_path>/<name>``, so that parts never share entries."""
    policy = dict(own or {})
    if parent.get("cache") is False:
        policy["cache"] = False
    elif policy.get("cache", True) and not policy.get("cache_path") and parent.get("cache_path"):
        policy["cache_path"] = f"{parent['cache_path']}/{name}"
    return policy


def plain(value: Any) -> Any:
    """A Hydra node as plain Python values (anything else as it is)."""
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value
