"""One verdict rule for every backend: the same model replies, in each transport's result shape, give
the same verdict; off-menu replies fail everywhere; the rule's details (prefixes, case, floors, mass)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import openai
import pytest
import torch
from transformers import BatchEncoding

from rlaif.judges.backends.bedrock import _parse_reply
from rlaif.judges.backends.local import LocalTransport
from rlaif.judges.backends.openai_compat import parse_completion
from rlaif.judges.base import _response_from
from rlaif.judges.protocol import JudgeRequest, JudgeResponse, TokenLogprob, TransportResult
from rlaif.rewards.verdicts import choices as verdicts
from rlaif.rewards.verdicts.choices import MIN_CHOICE_MASS, choice_distribution
from rlaif.rewards.verdicts.parsing import VerdictError

# The judge's whole first-token vocabulary here: 20 tokens, the size of every backend's top list, so
# the OpenAI-shaped reply lists exactly what the local transport's top-20 lists.
VOCAB = ["yes", " yes", "Yes", "y", "no", " No", "NO", "n", "A", " A", "a", "B", " B", "b"]
VOCAB += ["The", "In", "<", "Answer", "I", "."]
YES_NO, A_B = ("yes", "no"), ("A", "B")


class Said:
    """One model reply: its first-token distribution and what a text-only backend would return."""

    def __init__(self, choices: tuple[str, str], probs: dict[str, float], text: str) -> None:
        rest = 1.0 - sum(probs.values())
        unlisted = [t for t in VOCAB if t not in probs]
        self.choices, self.text = choices, text
        self.logprobs = {t: math.log(probs.get(t, rest / len(unlisted))) for t in VOCAB}


REPLIES = {  # each lists ~all its mass; the rest is spread thinly over the other tokens
    "yes in three spellings": Said(
        YES_NO, {"yes": 0.5, " yes": 0.1, "Yes": 0.1, "no": 0.1, "The": 0.1, "In": 0.0999}, "Yes."
    ),
    "no, upper and partial": Said(
        YES_NO, {" No": 0.2, "NO": 0.05, "n": 0.05, "yes": 0.1, "The": 0.3, "In": 0.2, "<": 0.0999}, " **no** "
    ),
    "A, with the article a beside it": Said(A_B, {"A": 0.4, " B": 0.2, "a": 0.3, "The": 0.09, "<": 0.0099}, "A"),
    "B, leaning": Said(A_B, {"B": 0.3, " A": 0.25, "b": 0.2, "The": 0.2, "<": 0.0499}, "`B`"),
}
OFF_MENU = {
    "prose": Said(YES_NO, {"The": 0.6, "In": 0.3, "I": 0.0999}, "The answer is yes."),
    "only the article a": Said(A_B, {"a": 0.6, "The": 0.3, "In": 0.0999}, "a"),
    "a bracketed verdict": Said(A_B, {"<": 0.7, "Answer": 0.2, ".": 0.0999}, "[[A]]"),
}


def openai_shape(said: Said) -> TransportResult:
    """What the OpenAI-compatible transport makes of the completion vLLM would send for this reply."""
    top = [{"token": t, "logprob": lp, "bytes": None} for t, lp in said.logprobs.items()]
    best = max(said.logprobs, key=lambda t: said.logprobs[t])
    content = [{"token": best, "logprob": said.logprobs[best], "bytes": None, "top_logprobs": top}]
    message = {"role": "assistant", "content": best}
    completion = openai.types.chat.ChatCompletion.model_validate(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "judge",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": {"content": content}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
        }
    )
    request = JudgeRequest.chat([{"role": "user", "content": "q"}], choices=said.choices, logprobs=True)
    return parse_completion(completion, request)


class _Tokenizer:
    """Just enough of a tokenizer for LocalTransport: each prompt is one id, each vocabulary id one text."""

    pad_token_id = 0

    def __init__(self, prompts: list[str]) -> None:
        self.prompts = prompts

    def apply_chat_template(self, messages: list[dict[str, str]], **_: Any) -> str:
        return messages[-1]["content"]

    def __call__(self, texts: str | list[str], **_: Any) -> BatchEncoding:
        if isinstance(texts, str):  # one text: its ids as a list, as a real tokenizer returns them
            return BatchEncoding({"input_ids": [self.prompts.index(texts)]})
        ids = torch.tensor([[self.prompts.index(t)] for t in texts])
        return BatchEncoding({"input_ids": ids, "attention_mask": torch.ones_like(ids)})

    def decode(self, ids: list[int]) -> str:
        return VOCAB[ids[0]]


class _Model:
    """Next-token logits = the reply's log-probabilities, so log-softmax gives them back."""

    device = torch.device("cpu")

    def __init__(self, replies: list[Said]) -> None:
        self.logits = torch.tensor([[s.logprobs[t] for t in VOCAB] for s in replies])

    def __call__(self, input_ids: torch.Tensor, logits_to_keep: int, **_: Any) -> Any:
        assert logits_to_keep == 1  # one position scored, as on the real model
        return type("Out", (), {"logits": self.logits[input_ids[:, -1]].unsqueeze(1)})


def local_shapes(replies: list[Said]) -> list[TransportResult]:
    """What the local transport returns for these replies (its real code, a stand-in model)."""
    prompts = [f"reply {k}" for k in range(len(replies))]
    transport = LocalTransport()
    transport._tokenizer, transport._model = _Tokenizer(prompts), _Model(replies)
    requests = [
        JudgeRequest.chat([{"role": "user", "content": p}], choices=s.choices)
        for p, s in zip(prompts, replies, strict=True)
    ]
    return transport._run(requests)


def bedrock_shape(said: Said) -> TransportResult:
    return _parse_reply({"output": {"message": {"content": [{"text": said.text}]}}, "usage": {}})


def test_the_three_backends_give_identical_verdicts() -> None:
    saids = list(REPLIES.values())
    for said, local in zip(saids, local_shapes(saids), strict=True):
        from_openai = choice_distribution(said.choices, openai_shape(said))
        from_local = choice_distribution(said.choices, local)
        from_text = choice_distribution(said.choices, bedrock_shape(said))
        assert from_local == pytest.approx(from_openai, abs=1e-5)
        assert max(from_text, key=from_text.__getitem__) == max(from_openai, key=from_openai.__getitem__)
        assert sorted(from_text.values()) == [0.0, 1.0]  # text is a hard verdict


def test_the_rule_adds_spellings_and_ignores_the_article() -> None:
    yes = choice_distribution(YES_NO, openai_shape(REPLIES["yes in three spellings"]))
    assert yes["yes"] == pytest.approx(0.7 / 0.8, abs=1e-4)  # "yes" + " yes" + "Yes" against "no"
    no = choice_distribution(YES_NO, openai_shape(REPLIES["no, upper and partial"]))
    assert no["no"] == pytest.approx(0.3 / 0.4, abs=1e-4)  # " No" + "NO" + "n" against "yes"
    a = choice_distribution(A_B, openai_shape(REPLIES["A, with the article a beside it"]))
    assert a["A"] == pytest.approx(0.4 / 0.6, abs=1e-4)  # "a" (0.3) is not a vote for A


@pytest.mark.parametrize("name", sorted(OFF_MENU))
def test_off_menu_replies_fail_on_every_backend(name: str) -> None:
    said = OFF_MENU[name]
    for shape in (openai_shape(said), local_shapes([said])[0], bedrock_shape(said)):
        with pytest.raises(VerdictError, match="off-menu"):
            choice_distribution(said.choices, shape)


def top(values: dict[str, float]) -> TransportResult:
    best = max(values, key=values.__getitem__)
    return TransportResult(text=best, token_logprobs=[TokenLogprob(best, values[best], dict(values))])


def test_prefixes_exact_matches_and_ambiguity() -> None:
    numbers = choice_distribution(("1", "10", "pass"), top({"1": -0.1, "10": -3.0, "p": -4.0}))
    # An exact match owns its token; "p" starts only "pass" here; probabilities renormalised over the three.
    total = math.exp(-0.1) + math.exp(-3.0) + math.exp(-4.0)
    assert numbers["1"] == pytest.approx(math.exp(-0.1) / total)
    assert numbers["pass"] == pytest.approx(math.exp(-4.0) / total)
    shared = choice_distribution(("pass", "pause", "fail"), top({"pa": -0.5, "f": -1.0, " fail": -2.0}))
    assert shared["pass"] == shared["pause"] < shared["fail"]  # "pa" starts both: it counts for neither


def test_a_choice_with_no_listed_token_gets_the_floor() -> None:
    listed = {"yes": -0.5, "The": -1.0, "maybe": -4.0}
    p = choice_distribution(YES_NO, top(listed))
    floor = -4.0 - verdicts.CHOICE_FLOOR_MARGIN
    assert p["no"] == pytest.approx(math.exp(floor) / (math.exp(-0.5) + math.exp(floor)))
    assert 0.0 < p["no"] < 0.5 * math.exp(-4.0) / math.exp(-0.5)


def test_case_is_ignored_only_for_multi_letter_choices() -> None:
    assert choice_distribution(YES_NO, top({"YES": -0.2, "No": -1.0}))["yes"] > 0.5
    with pytest.raises(VerdictError, match="off-menu"):
        choice_distribution(A_B, top({"a": -0.1, "b": -2.5}))
    assert choice_distribution(A_B, TransportResult(text="B."))["B"] == 1.0
    with pytest.raises(VerdictError):
        choice_distribution(A_B, TransportResult(text="b"))


def test_the_mass_threshold_is_the_boundary() -> None:
    just_above = math.log(MIN_CHOICE_MASS * 1.01)
    assert choice_distribution(YES_NO, top({"The": -0.01, "yes": just_above}))["yes"] > 0.5
    with pytest.raises(VerdictError, match="off-menu"):
        choice_distribution(YES_NO, top({"The": -0.01, "yes": math.log(MIN_CHOICE_MASS * 0.99)}))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 0.5])
def test_broken_log_probabilities_fail(bad: float) -> None:
    with pytest.raises(VerdictError, match="invalid log-probability"):
        choice_distribution(YES_NO, top({"yes": -0.1, "no": bad}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("yes", 1.0), (" Yes. ", 1.0), ('"no"', 0.0), ("**No.**", 0.0), ("`YES`", 1.0), ("_no_", 0.0)],
)
def test_text_verdicts_normalise_only_the_wrapping(text: str, expected: float) -> None:
    assert choice_distribution(YES_NO, TransportResult(text=text))["yes"] == expected


@pytest.mark.parametrize("text", ["yes!", "Yes, it does", "yes no", "yes..", "[[yes]]", "Answer: yes", "", "  "])
def test_text_verdicts_reject_anything_else(text: str) -> None:
    with pytest.raises(VerdictError):
        choice_distribution(YES_NO, TransportResult(text=text))


def test_failed_and_empty_responses_are_verdict_errors() -> None:
    with pytest.raises(VerdictError, match="judge error: boom"):
        choice_distribution(YES_NO, JudgeResponse(error="boom"))
    with pytest.raises(VerdictError, match="empty"):
        choice_distribution(YES_NO, JudgeResponse(text=None))
    with pytest.raises(ValueError):
        choice_distribution(("yes", "yes"), TransportResult(text="yes"))


def test_a_cache_entry_from_before_the_rule_moved_still_reads() -> None:
    # Entries written when transports returned choice_logprobs: an unknown field must not crash, and
    # the old soft verdict is read by the same rule rather than turning into a hard 1.0.
    old = {"text": "yes", "choice_logprobs": {"yes": math.log(0.6), "no": math.log(0.2)}, "tokens_in": 3}
    response = _response_from({**old, "tokens_out": 0, "from_the_future": 1}, cached=True)
    assert response.cached and response.tokens_in == 3
    assert choice_distribution(YES_NO, response)["yes"] == pytest.approx(0.75)
    fresh = JudgeResponse(text="no", token_logprobs=[TokenLogprob("no", -0.1, {"no": -0.1, "yes": -3.0})])
    assert _response_from({k: v for k, v in asdict(fresh).items() if k != "cached"}, cached=True).token_logprobs
