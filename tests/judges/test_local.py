"""The in-process judge on the real packaged model: choice requests, generation, batching, queueing."""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any

import pytest

from rlaif.judges.backends.local import CHOICE_TOP_LOGPROBS, LocalTransport, local_judge, resolve_device
from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.rewards.verdicts.choices import choice_distribution


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
    assert clone.max_in_flight == 6


class _Counting(LocalTransport):
    """Counts forward passes, and for every request how many of them it waited inside ``send``."""

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self.batches = self.inside = self.most_inside = 0
        self.waited: list[int] = []

    def _run(self, requests: list[JudgeRequest]) -> list[TransportResult]:
        results = super()._run(requests)
        self.batches += 1  # batches run one at a time, so a plain counter is exact
        return results

    async def send(self, request: JudgeRequest) -> TransportResult:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        entered = self.batches
        try:
            return await super().send(request)
        finally:
            self.inside -= 1
            self.waited.append(self.batches - entered)


class _Unbounded(_Counting):
    """The same transport without ``max_in_flight``: the engine sends it its whole concurrency at once."""

    max_in_flight = None  # type: ignore[assignment]


@pytest.mark.parametrize(("transport_class", "bounded"), [(_Counting, True), (_Unbounded, False)])
def test_a_batch_larger_than_one_forward_pass_waits_outside_the_timed_attempt(
    judge: Any, transport_class: type[_Counting], bounded: bool
) -> None:
    # 24 requests in forward passes of 2 (12 passes), concurrency 64: the per-attempt timeout must only
    # ever see the pass running when a request arrives plus its own, whatever the size of the batch.
    judge.transport._ensure_loaded()
    transport = transport_class(max_batch_size=2)
    transport._model, transport._tokenizer = judge.transport._model, judge.transport._tokenizer
    counting = Judge(transport, {"max_concurrency": 64, "timeout_s": 600.0, "cache": False, "max_retries": 0})
    try:
        responses = counting.generate([yes_no(f"Is {n} a prime number?") for n in range(24)])
    finally:
        counting.close()
    assert all(r.ok for r in responses), [r.error for r in responses if not r.ok]
    assert transport.batches == 12 and len(transport.waited) == 24
    if bounded:
        assert transport.most_inside <= 2 * transport.max_batch_size
        assert max(transport.waited) <= 2
    else:  # control: without the bound the last requests wait out the whole queue inside their attempt
        assert transport.most_inside > 2 * transport.max_batch_size and max(transport.waited) > 2


@pytest.mark.parametrize(
    ("device", "has_cuda", "count", "local_rank", "expected"),
    [
        ("auto", False, 0, "1", "cpu"),
        ("auto", True, 4, None, "cuda:0"),
        ("auto", True, 4, "3", "cuda:3"),  # each accelerate rank's judge on its own GPU, not all on GPU 0
        ("auto", True, 2, "3", "cuda:1"),  # more ranks than visible GPUs: wrap around
        ("cuda:1", True, 4, "3", "cuda:1"),  # an explicit device is kept
        ("cpu", True, 4, "0", "cpu"),
    ],
)
def test_auto_device_follows_the_process_local_rank(
    monkeypatch: pytest.MonkeyPatch, device: str, has_cuda: bool, count: int, local_rank: str | None, expected: str
) -> None:
    if local_rank is None:
        monkeypatch.delenv("LOCAL_RANK", raising=False)
    else:
        monkeypatch.setenv("LOCAL_RANK", local_rank)
    assert resolve_device(device, has_cuda, count) == expected


def test_shared_prefixes_give_the_same_probabilities_with_fewer_tokens_computed() -> None:
    """The everyday rubric's requests for two questions x three answers: P(choice) equal to 1e-4 with the
    shared prefixes computed once, and fewer prompt tokens through the model."""
    from omegaconf import OmegaConf

    import rlaif
    from rlaif.rewards.prompts.rubric import criterion_request
    from rlaif.rewards.rubric_spec import Rubric

    spec = OmegaConf.to_container(OmegaConf.load(Path(rlaif.__file__).parent / "conf" / "rubric" / "everyday.yaml"))
    rubric = Rubric.from_mapping(spec, "rubric")
    answers = ["Boil it for nine minutes.", "Thanks for asking! Nine minutes.", "I do not know, sorry about that."]
    requests = [
        criterion_request(rubric, c, q, a, None)
        for q in ("How do I boil an egg?", "What is a carbohydrate?")
        for a in answers
        for c in rubric.criteria
    ]
    plain = LocalTransport(share_prefix=False)
    shared = LocalTransport(share_prefix=True)
    expected, got = plain._run(requests), shared._run(requests)
    for want, have in zip(expected, got, strict=True):
        top_want, top_have = want.token_logprobs[0].top, have.token_logprobs[0].top
        common = top_want.keys() & top_have.keys()  # the top-k lists may differ at a tie in their last place
        assert len(common) >= len(top_want) - 1
        for token in common:
            assert math.exp(top_have[token]) == pytest.approx(math.exp(top_want[token]), abs=1e-4)
        p_want, p_have = choice_distribution(("yes", "no"), want), choice_distribution(("yes", "no"), have)
        assert p_have["yes"] == pytest.approx(p_want["yes"], abs=1e-4)
        assert want.tokens_in == have.tokens_in
    assert shared.computed_tokens < 0.8 * plain.computed_tokens

    # The prefix's KV cache goes back in under transformers' current name (past_key_values warns on every call).
    passed: list[set[str]] = []
    shared._model.register_forward_pre_hook(lambda module, args, kwargs: passed.append(set(kwargs)), with_kwargs=True)
    shared._run(requests[: len(rubric.criteria)])  # one question and answer: its criteria share a prefix
    if "cache" in inspect.signature(shared._model.forward).parameters:
        assert any("cache" in names for names in passed) and not any("past_key_values" in names for names in passed)
