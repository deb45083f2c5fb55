"""The keys of a second opinion: one shape, :class:`SecondOpinion`, in all four places that ask one
(docs/judging.md, "Second opinions"): ``second_opinion`` in ``rlaif.judge_eval``, ``second_opinions.NAME`` in
``rlaif.evaluate``, ``monitor.second_opinion`` and ``canaries.second_opinion`` in ``rlaif.train``.

Each place's older keys (``second_judge``, ``judges.NAME``, ``monitor.judge``, ``monitor.judge_sample``,
``monitor.min_agreement``, ``canaries.rows``, ``canaries.seed``) still work: :func:`read_second_opinion` maps
them onto the new keys in one place, logs one warning naming the new key, and refuses a config that sets an old
key and its new key to different values (:class:`ConfigError`: exit 2).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PrivateAttr

from rlaif.errors import ConfigError, parse_settings, plain

log = logging.getLogger("rlaif")

# Old-key warnings already logged in this process: the monitor's keys are read more than once per run.
_warned: set[str] = set()


class SecondOpinion(BaseModel):
    """One second opinion on the training judge: which judge gives it, on how many items, the seed of the
    draw and of the interval, and the floor under Spearman's ρ of the two judges' scores (the ``spearman``
    of :class:`~rlaif.evaluation.second_opinion.Agreement`; the monitor's ``judge_agreement``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    judge: dict[str, Any] | None = None  # a node of the judge group (+judge@<place>.judge=NAME); None: none or fixed
    sample: NonNegativeInt | None = None  # items re-graded; None: every item
    seed: int | None = None  # the draw and the interval's resamples; None: the place's own seed
    min_agreement: Annotated[float, Field(ge=-1.0, le=1.0)] | None = None  # ρ under it fails; None: report only
    _keys: dict[str, str] = PrivateAttr(default_factory=dict)

    def key_of(self, name: str) -> str:
        """The config key ``name`` was read from (an old key when the config set it there), for messages."""
        return self._keys[name]


def read_second_opinion(
    node: Mapping[str, Any] | None,
    key: str,
    defaults: Mapping[str, Any] | None = None,
    old: Mapping[str, tuple[str, Any]] | None = None,
) -> SecondOpinion:
    """The second opinion at config key ``key`` (its node ``node``; missing keys take ``defaults``, the place's
    packaged values). ``old`` maps a field to (its old key, that key's value; None: not set): a set old key is
    taken, with a warning, unless the new key was also moved off its default to another value (then exit 2); an
    old key at the default of the new one, with the new one at it too, changes nothing and is not mentioned.
    Bad values raise :class:`ConfigError` naming the key they were given under."""
    defaults = dict(defaults or {})
    values = {**defaults, **{str(k): v for k, v in dict(plain(node) or {}).items()}}
    keys = {name: f"{key}.{name}" for name in SecondOpinion.model_fields}
    used = []
    for name, (old_key, value) in (old or {}).items():
        value = plain(value)
        if value is None or (value == defaults.get(name) and values.get(name) == defaults.get(name)):
            continue  # not set, or at the new key's default (an older run's saved config): nothing to say
        _check_one(name, value, old_key)
        new = values.get(name)
        if name in values and new != defaults.get(name) and new != value:
            raise ConfigError(
                f"{old_key} ({_shown(value)}) and {key}.{name} ({_shown(new)}) are both set, to different values: "
                f"{old_key} is the old name of {key}.{name}; set only {key}.{name}"
            )
        values[name], keys[name] = value, old_key
        used.append(f"{old_key} -> {key}.{name}")
    warning = f"rlaif: old key(s) read as their new name(s): {', '.join(used)} (the old ones still work)"
    if used and warning not in _warned:
        _warned.add(warning)
        log.warning("%s", warning)
    opinion = parse_settings(SecondOpinion, values, key)
    opinion._keys = keys
    return opinion


def _shown(value: Any) -> str:
    """A value for a one-line message (a judge config is long)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _check_one(name: str, value: Any, old_key: str) -> None:
    """An old key's value checked on its own, so that a bad one is named by the key it was given under."""
    try:
        parse_settings(SecondOpinion, {name: value}, "")
    except ConfigError as exc:
        raise ConfigError(f"{old_key}{str(exc).removeprefix(name)}") from None


def refuse_unsupported(opinion: SecondOpinion, where: str, **why: str) -> None:
    """A key this place cannot honour, set to anything but null: exit 2 naming it and saying why."""
    for name, reason in why.items():
        if getattr(opinion, name) is not None:
            raise ConfigError(f"{opinion.key_of(name)}: {reason} in {where}; leave it null")
