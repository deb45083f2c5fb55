"""rlaif's Hydra config composed from override strings, outside ``@hydra.main``: for the entry points that are
not a Hydra app (``rlaif.open_reward``, the verl reward function, the Nova Lambda). The same tree and defaults
as ``python -m rlaif.train``, so an override means the same everywhere. A caller that is itself a Hydra app
(a user's ``@hydra.main`` script, ``rlaif.train`` with ``reward=nova_lambda``) keeps its own Hydra state: it is
set aside while rlaif's tree is composed and put back after.
"""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig

from rlaif.errors import ConfigError, InputError, is_input_error, one_line


def compose_config(overrides: Sequence[str], config_name: str = "train", where: str = "overrides") -> DictConfig:
    """``rlaif/conf/<config_name>.yaml`` with ``overrides`` (``"judge=vllm"``, ``"judge.base_url=..."``) applied.

    A bad override (unknown group option or key, bad syntax) raises :class:`ConfigError` naming it after
    ``where`` (``open_reward: ...``), not Hydra's traceback."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    saved = get_gh_backup() if GlobalHydra.instance().is_initialized() else None
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module("rlaif.conf", version_base="1.3"):
            return compose(config_name, overrides=list(overrides))
    except InputError:
        raise
    except Exception as exc:
        if is_input_error(exc):
            message = one_line(exc).split("\nConfig search path:")[0].strip()  # where Hydra looked: noise here
            raise ConfigError(f"{where}: {message}") from exc
        raise
    finally:
        if saved is not None:
            restore_gh_from_backup(saved)
