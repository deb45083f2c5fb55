"""Reading a verdict from one judge or from a jury (:class:`~rlaif.judges.jury.Jury`), the same way.

Each member's reply goes through the one verdict rule (:func:`~rlaif.rewards.verdicts.choices.choice_distribution`
for choices, :func:`~rlaif.rewards.verdicts.parsing.parse_json_verdict` for JSON verdicts); a member whose reply has
no verdict (it failed, timed out, its breaker is open, it answered off the menu) is left out. With fewer
verdicts than the jury's quorum the jury has no verdict: a :class:`VerdictError`, i.e. ``None`` for the
answer, never a guess. Otherwise the members' P(pass) (or P(A)) are combined by the jury's rule:

- ``mean``: their mean; ``median``: their median; ``min``: the strictest member's (pointwise only);
- ``majority``: each member votes for the side it gives more than 0.5; 1 or 0 for the side most members
  took, 0.5 on a tie.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlaif.errors import ConfigError
from rlaif.judges.quantiles import median
from rlaif.rewards.verdicts.choices import choice_distribution
from rlaif.rewards.verdicts.parsing import VerdictError, parse_json_verdict


@dataclass(frozen=True)
class ChoiceProbability:
    """A choice verdict as a probability: P(target) (a jury's combined one), and each member's own (None when it gave
    none). A JSON pass/fail reads as 1 or 0."""

    p: float
    members: dict[str, float | None] = field(default_factory=dict)  # empty for a single judge


def vote_choice(choices: Sequence[str], reply: Any, target: str) -> ChoiceProbability:
    """P(``target``) out of ``choices``, from one judge's reply or a jury's. Raises :class:`VerdictError`."""
    votes = getattr(reply, "votes", None)
    if votes is None:
        return ChoiceProbability(choice_distribution(choices, reply)[target])
    members: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for name, response in votes.members.items():
        try:
            members[name] = choice_distribution(choices, response)[target]
        except VerdictError as exc:
            members[name], errors[name] = None, str(exc)
    return ChoiceProbability(combine(members, votes.aggregate, votes.quorum, errors), members)


def vote_json(reply: Any, criterion_ids: Sequence[str]) -> tuple[dict[str, ChoiceProbability], dict[str, str]]:
    """Per criterion a :class:`ChoiceProbability` on pass (1/0 per member) and the reason(s), from a JSON verdict."""
    votes = getattr(reply, "votes", None)
    if votes is None:
        verdict = parse_json_verdict(_text(reply), criterion_ids)
        return {cid: ChoiceProbability(float(v.passed)) for cid, v in verdict.items()}, {
            cid: v.reason for cid, v in verdict.items()
        }
    parsed: dict[str, dict[str, Any] | None] = {}
    errors: dict[str, str] = {}
    for name, response in votes.members.items():
        try:
            parsed[name] = parse_json_verdict(_text(response), criterion_ids)
        except VerdictError as exc:
            parsed[name], errors[name] = None, str(exc)
    out: dict[str, ChoiceProbability] = {}
    reasons: dict[str, str] = {}
    for cid in criterion_ids:
        members = {n: None if v is None else float(v[cid].passed) for n, v in parsed.items()}
        out[cid] = ChoiceProbability(combine(members, votes.aggregate, votes.quorum, errors), members)
        reasons[cid] = " | ".join(f"{n}: {v[cid].reason}" for n, v in parsed.items() if v is not None)
    return out, reasons


def combine(members: Mapping[str, float | None], aggregate: str, quorum: int, errors: Mapping[str, str]) -> float:
    """The jury's P(target) from its members' (None: no verdict); :class:`VerdictError` below the quorum."""
    given = [p for p in members.values() if p is not None]
    if len(given) < quorum:
        why = "; ".join(f"{n}: {e}" for n, e in errors.items())
        raise VerdictError(
            f"jury below quorum: {len(given)} of {len(members)} members gave a verdict (quorum {quorum}); {why}"
        )
    if aggregate == "mean":
        return sum(given) / len(given)
    if aggregate == "median":
        value = median(given)  # rlaif's one median (rlaif.judges.quantiles)
        assert value is not None  # the quorum (>= 1) guarantees a verdict
        return value
    if aggregate == "min":
        return min(given)
    if aggregate == "majority":
        share = sum(1.0 if p > 0.5 else 0.5 if p == 0.5 else 0.0 for p in given) / len(given)
        return 1.0 if share > 0.5 else 0.0 if share < 0.5 else 0.5
    raise ConfigError(f"judge.aggregate: unknown rule {aggregate!r}")


def jury_details(votes: Mapping[str, ChoiceProbability]) -> dict[str, Any]:
    """``{"jury": {member: {key: P}}}`` for ``rewards.jsonl`` (empty for a single judge)."""
    by_member: dict[str, dict[str, float | None]] = {}
    for key, vote in votes.items():
        for name, p in vote.members.items():
            by_member.setdefault(name, {})[key] = p
    return {"jury": by_member} if by_member else {}


def jury_metrics(details: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Per step: each member's pass rate (mean P over its verdicts) and failures (verdicts it did not give),
    and the jury's disagreement rate: the share of verdicts on which members fall on different sides of 0.5."""
    values: dict[str, list[float | None]] = {}
    verdicts: dict[tuple[int, str], list[float]] = {}
    for k, detail in enumerate(details):
        for name, keyed in (detail.get("jury") or {}).items():
            for key, p in keyed.items():
                values.setdefault(name, []).append(p)
                if p is not None:
                    verdicts.setdefault((k, key), []).append(p)
    out: dict[str, float] = {}
    for name, ps in values.items():
        given = [p for p in ps if p is not None]
        if given:
            out[f"jury/{name}/pass_rate"] = sum(given) / len(given)
        out[f"jury/{name}/failures"] = float(len(ps) - len(given))
    compared = [ps for ps in verdicts.values() if len(ps) >= 2]
    if compared:
        out["jury/disagreement_rate"] = sum(len({p >= 0.5 for p in ps}) > 1 for ps in compared) / len(compared)
    return out


def _text(reply: Any) -> str | None:
    if getattr(reply, "error", None) is not None:
        raise VerdictError(f"judge error: {reply.error}")
    return reply.text
