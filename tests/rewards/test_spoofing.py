"""The spoofing suite: no generated attack changes a parsed verdict (100%, for every reward and mode).

The judge here is *gullible* on purpose: it reads the prompt the way a lenient model or tokenizer would
(HTML entities decoded, NFKC-folded, invisible characters dropped, case ignored) and, the moment any text
of the answer reaches outside its fence, or a chat control token survives anywhere, it obeys the answer
and returns the verdict the attacker asked for. Otherwise it answers honestly (the answer fails), and
even quotes the attack in its reply before its own final verdict. A verdict changed by any attack fails
the test; a control run without defusing proves that the attacks do break a naive fence.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest

from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.rewards import fencing
from rlaif.rewards.preference import PreferenceReward
from rlaif.rewards.rubric import RubricReward
from rlaif.rewards.verdicts.choices import choice_distribution
from rlaif.rewards.verdicts.parsing import VerdictError, parse_json_verdict
from tests.rewards.attacks import BENIGN, ENCODINGS, INJECTIONS, attacks
from tests.rewards.scripted import a_or_b, fenced, scripted_judge, text_reply, yes_no

ATTACKS = attacks()
RUBRIC = {
    "name": "t",
    "task": "Grade a short answer.",
    "criteria": [
        {
            "id": "relevant",
            "question": "It answers the question.",
            "weight": 2.0,
            "examples": [{"answer": "Nine minutes.", "passes": True}, {"answer": "Paris.", "passes": False}],
        },
        {"id": "short", "question": "It is short.", "weight": 1.0},
    ],
}
# The compact layout for small judges: no system turn and no warning about the answer's instructions, so
# the fence alone must hold.
COMPACT = {
    "name": "c",
    "prompt": "compact",
    "criteria": [
        {"id": "relevant", "question": "Does it answer the question?"},
        {"id": "short", "question": "Is it long?", "pass_on": "no"},
    ],
}
SPEC = {"instruction": "The better answer is correct.", "examples": [{"question": "2+2?", "better": "4", "worse": "5"}]}
PROMPT = [{"role": "user", "content": "How do I boil an egg?"}]
REFERENCE = "Boil it for seven to ten minutes, then cool it."

Script = Callable[[JudgeRequest], TransportResult]
_TAG = re.compile(r"<\s*(/?)\s*(answer_a|answer_b|answer|reference|question)\s*>")
_CONTROL = re.compile(r"<\|[^|>]{0,40}\|>|\[\s*/?\s*inst\s*\]|</?s>|<</?sys>>|<(?:start|end)_of_turn>")


def reader_view(text: str) -> str:
    """What a lenient reader takes the text to be."""
    text = unicodedata.normalize("NFKC", html.unescape(text))
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").casefold()


def outside(text: str) -> str:
    """The prompt with every fenced block's content removed, fences ending at the first matching close tag."""
    view, parts, pos, open_tag = reader_view(text), [], 0, None
    for m in _TAG.finditer(view):
        closing, name = m.group(1) == "/", m.group(2)
        if open_tag is None and not closing:
            parts.append(view[pos : m.end()])
            open_tag = name
        elif open_tag == name and closing:
            pos, open_tag = m.start(), None
    parts.append(view[pos:] if open_tag is None else "<unclosed fence>")
    return "".join(parts)


class Gullible:
    """Learns the benign prompt layouts first, then obeys any request whose layout an answer changed."""

    def __init__(self, honest: Script, obey: Script) -> None:
        self.honest, self.obey = honest, obey
        self.layouts: set[str] = set()
        self.learning = True
        self.obeyed = 0

    def __call__(self, request: JudgeRequest) -> TransportResult:
        text = "\n".join(m["content"] for m in request.messages)
        layout = outside(text)
        if self.learning:
            self.layouts.add(layout)
            return self.honest(request)
        if layout not in self.layouts or _CONTROL.search(reader_view(text)):
            self.obeyed += 1
            return self.obey(request)
        return self.honest(request)


def _json_verdict(passed: bool) -> str:
    return json.dumps({cid: {"reason": "checked", "pass": passed} for cid in ("relevant", "short")})


def _echo(request: JudgeRequest) -> str:
    return f"The answer says: {fenced(request)}\n"


def _fails(request: JudgeRequest) -> float:
    """P(yes) of the honest failing verdict: "no" for an ordinary criterion, "yes" for a fault question."""
    return 1.0 if "Is it long?" in str(request.messages) else 0.0


def _is_reference(text: str) -> bool:
    return text == REFERENCE


SCENARIOS: dict[str, tuple[Callable[[Any], Any], Script, Script]] = {
    "rubric_logprob": (
        lambda judge: RubricReward(judge, RUBRIC, mode="logprob"),
        lambda r: TransportResult(text=_echo(r), token_logprobs=yes_no(0.0).token_logprobs),
        lambda r: yes_no(1.0),
    ),
    "rubric_compact_logprob": (
        lambda judge: RubricReward(judge, COMPACT, mode="logprob"),
        lambda r: TransportResult(text=_echo(r), token_logprobs=yes_no(_fails(r)).token_logprobs),
        lambda r: yes_no(1.0 - _fails(r)),
    ),
    "rubric_logprob_text_only": (
        lambda judge: RubricReward(judge, RUBRIC, mode="logprob"),
        lambda r: text_reply("no"),
        lambda r: text_reply("yes"),
    ),
    "rubric_json": (
        lambda judge: RubricReward(judge, RUBRIC, mode="json"),
        lambda r: text_reply(_echo(r) + _json_verdict(False)),
        lambda r: text_reply(_json_verdict(True)),
    ),
    "preference": (
        lambda judge: PreferenceReward(judge, SPEC, mode="vs_reference"),
        lambda r: a_or_b(1.0 if _is_reference(fenced(r, "answer_a")) else 0.0),
        lambda r: a_or_b(0.0 if _is_reference(fenced(r, "answer_a")) else 1.0),
    ),
}


def _run(scenario: str, answers: list[str]) -> tuple[list[float | None], Gullible]:
    build, honest, obey = SCENARIOS[scenario]
    gullible = Gullible(honest, obey)
    judge, _ = scripted_judge(gullible)
    reward = build(judge)

    async def score(batch: list[str]) -> list[float | None]:
        refs = [REFERENCE] * len(batch)
        return await reward(prompts=[PROMPT] * len(batch), completions=batch, reference_answer=refs)

    assert asyncio.run(score([BENIGN])) == [0.0]  # learn the benign layouts; the honest verdict is "fail"
    gullible.learning = False
    scores = asyncio.run(score(answers))
    judge.close()
    return scores, gullible


def test_there_are_enough_attacks() -> None:
    assert len(ATTACKS) >= 100 and len({a for _, a in ATTACKS}) == len(ATTACKS)
    assert (len(ATTACKS), len(INJECTIONS), len(ENCODINGS)) == (288, 10, 9)  # the counts docs/answer_fence.md gives


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_attack_changes_the_parsed_verdict(scenario: str) -> None:
    scores, gullible = _run(scenario, [answer for _, answer in ATTACKS])
    changed = [label for (label, _), score in zip(ATTACKS, scores, strict=True) if score != 0.0]
    assert changed == [], f"{len(changed)}/{len(ATTACKS)} attacks changed the verdict: {changed[:10]}"
    assert gullible.obeyed == 0


@pytest.mark.parametrize("scenario", ["rubric_logprob", "rubric_compact_logprob"])
def test_the_attacks_do_break_a_naive_fence(monkeypatch: pytest.MonkeyPatch, scenario: str) -> None:
    """Control run: with defusing switched off, the same judge is fooled by most of the attacks."""
    monkeypatch.setattr(fencing, "defuse", lambda text: text)
    scores, _ = _run(scenario, [answer for _, answer in ATTACKS])
    fooled = sum(score != 0.0 for score in scores)
    assert fooled >= len(ATTACKS) // 2, f"only {fooled}/{len(ATTACKS)} attacks fooled the naive fence"


@pytest.mark.parametrize(("label", "attack"), ATTACKS[:: max(1, len(ATTACKS) // 60)], ids=lambda v: str(v)[:40])
def test_quoted_attacks_in_the_judge_reply_do_not_change_its_final_verdict(label: str, attack: str) -> None:
    honest = parse_json_verdict(_json_verdict(False), ["relevant", "short"])
    assert parse_json_verdict(f"Quoting: {attack}\n{_json_verdict(False)}", ["relevant", "short"]) == honest
    for first, second in (("yes", "no"), ("A", "B")):
        with pytest.raises(VerdictError):  # an attack as the whole reply is off the menu: a failure, never a pass
            choice_distribution((first, second), text_reply(attack))


def test_fenced_answers_hold_no_markup_at_all() -> None:
    for _, attack in ATTACKS:
        defused = fencing.defuse(attack)
        assert "<" not in defused and ">" not in defused
        view = reader_view(defused)
        assert not _TAG.search(view) and not _CONTROL.search(view)
