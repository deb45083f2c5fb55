"""The in-process judge on the real packaged model: choice requests, generation, batching."""

from __future__ import annotations

import math

import pytest

from rlaif.judges.base import JudgeRequest
from rlaif.judges.local import CHOICE_TOP_LOGPROBS, LocalTransport, local_judge
from rlaif.rewards.verdicts import choice_distribution


@pytest.fixture(scope="module")
def judge():  # type: ignore[no-untyped-def]
    j = local_judge(max_batch_size=4)
    yield j
    j.close()


def yes_no(text: str) -> JudgeRequest:
    return JudgeRequest.chat([{"role": "user", "content": text}], choices=("yes", "no"), max_tokens=1)


def test_choice_requests_return_the_first_tokens_top_list_without_decoding(judge) -> None:  # type: ignore[no-untyped-def]
    responses = judge.generate([yes_no(f"Is {n} an even number? Answer yes or no.") for n in range(6)])
    for r in responses:
        assert r.ok, r.error
        [first] = r.token_logprobs  # one position: the forward pass scores only the next token
        assert 0 < len(first.top) <= CHOICE_TOP_LOGPROBS
        assert all(lp <= 0 and math.isfinite(lp) for lp in first.top.values())
        assert r.text == first.token and first.logprob == max(first.top.values())  # the argmax, as text
        assert r.tokens_out == 1 and r.tokens_in > 0
        p = choice_distribution(("yes", "no"), r)  # the transport returns what was said; rewards decide
        assert p["yes"] + p["no"] == pytest.approx(1.0)


def test_batched_scores_match_single_scores(judge) -> None:  # type: ignore[no-untyped-def]
    # Left padding in a batch must not change a request's answer.
    short, long = yes_no("Is water wet?"), yes_no("Is the following sentence grammatical? 'The cat sat on the mat.'")
    alone = judge.transport._run([long])[0]
    together = judge.transport._run([short, long])[1]
    assert alone.text == together.text
    head = sorted(alone.token_logprobs[0].top, key=alone.token_logprobs[0].top.__getitem__)[-5:]
    for token in head:
        assert together.token_logprobs[0].top[token] == pytest.approx(alone.token_logprobs[0].top[token], abs=2e-3)
    assert choice_distribution(("yes", "no"), together)["yes"] == pytest.approx(
        choice_distribution(("yes", "no"), alone)["yes"], abs=2e-3
    )


def test_generation_is_greedy_and_counts_tokens(judge) -> None:  # type: ignore[no-untyped-def]
    request = JudgeRequest.chat([{"role": "user", "content": "Name a colour."}], max_tokens=8)
    first, second = judge.transport._run([request]), judge.transport._run([request])
    assert first[0].text and first[0].text == second[0].text
    assert 0 < first[0].tokens_out <= 8


def test_transport_pickles_without_the_model() -> None:
    import pickle

    transport = LocalTransport(max_batch_size=3)
    clone = pickle.loads(pickle.dumps(transport))
    assert clone.identity == transport.identity and clone.max_batch_size == 3 and clone._model is None
