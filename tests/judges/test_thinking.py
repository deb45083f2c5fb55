"""Thinking judges (docs/judging.md "Thinking judges"): ``judge.extra_body`` / ``judge.additional_fields``, the
reasoning kept apart from the verdict, counted and bounded, a reply cut off in its reasoning, and a first token
taken by thinking. Through a real :class:`Judge` over a loopback server that answers like a thinking model."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from rlaif.errors import ConfigError
from rlaif.judges import thinking
from rlaif.judges.backends.bedrock import bedrock_judge
from rlaif.judges.backends.openai_compat import openai_judge
from rlaif.judges.backends.openai_reply import parse_completion
from rlaif.judges.base import Judge
from rlaif.judges.pool import pool_judge
from rlaif.judges.preflight import JudgeUnavailableError
from rlaif.judges.protocol import JudgeRequest, TokenLogprob
from rlaif.rewards.grades import REASONING_CHARS
from rlaif.rewards.rubric import RubricReward
from rlaif.rewards.verdicts.choices import choice_distribution
from rlaif.rewards.verdicts.parsing import VerdictError
from rlaif.runs.judge_and_reward import check_judge_for
from tests import _forkserver as forked
from tests.judges._thinking_server import REASONING_HEAD, REASONING_TAIL, ThinkingServer

RUBRIC = {
    "name": "t",
    "criteria": [{"id": "correct", "question": "Is it correct?"}, {"id": "polite", "question": "Is it polite?"}],
}
PROMPT = [{"role": "user", "content": "How do I boil an egg?"}]
NO_CACHE = {"cache": False, "max_retries": 0}


@pytest.fixture(params=["block", "field"])
def shape(request: pytest.FixtureRequest) -> str:
    """Where the server puts the reasoning: a <think> block in the content, or reasoning_content beside it."""
    return str(request.param)


@pytest.fixture
def judge_over() -> Iterator[Any]:
    """Real judges over real loopback servers, all closed at the end."""
    opened: list[Judge] = []

    def make(server: ThinkingServer, **options: Any) -> Judge:
        opened.append(openai_judge(base_url=server.url, policy=options.pop("policy", NO_CACHE), **options))
        return opened[-1]

    yield make
    for judge in opened:
        judge.close()


def top(**probabilities: float) -> dict[str, float]:
    return {token.replace("_", " "): math.log(p) for token, p in probabilities.items()}


class Reply:
    def __init__(self, listed: dict[str, float]) -> None:
        first = max(listed, key=lambda t: listed[t])
        self.text, self.token_logprobs = first, [TokenLogprob(first, listed[first], listed)]


# -- reading the reasoning ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('<think>\nhmm {"pass": false}\n</think>\n\n{"pass": true}', ('hmm {"pass": false}', '{"pass": true}', False)),
        ('R1 opened it in the prompt</think>{"pass": true}', ("R1 opened it in the prompt", '{"pass": true}', False)),
        ("<think>still thinking about it", ("still thinking about it", "", True)),
        ('{"pass": true}', (None, '{"pass": true}', False)),
        ("yes", (None, "yes", False)),
    ],
)  # fmt: skip
def test_split_reasoning(text: str, expected: tuple[str | None, str, bool]) -> None:
    assert thinking.split_reasoning(text) == expected


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_the_reasoning_field_is_read_from_the_sdks_message(field: str) -> None:
    """vLLM's reasoning parsers name the field reasoning_content (older) or reasoning (newer); the openai SDK keeps
    either as an extra field of its message model."""
    reply = {
        "id": "x", "object": "chat.completion", "created": 0, "model": "judge",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "yes", field: 'Draft: {"pass": false}'}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
    }  # fmt: skip
    result = parse_completion(ChatCompletion.model_validate(reply), JudgeRequest.chat(PROMPT, max_tokens=64))
    assert (result.text, result.reasoning) == ("yes", 'Draft: {"pass": false}')
    assert result.reasoning_tokens == math.ceil(len('Draft: {"pass": false}') / 4) and result.tokens_out == 9


def test_a_first_token_taken_by_thinking_is_told_from_an_unsure_judge() -> None:
    """The detection rule: a marker is the most likely token, markers hold >= THINKING_MIN_MASS, and the verdict
    words hold under MIN_CHOICE_MASS. A small judge that is merely unsure is never flagged."""
    thinking_first = top(**{"<think>": 0.97, "So": 0.01, "yes": 0.004, "no": 0.003})
    filler_first = top(Okay=0.7, So=0.2, yes=0.005, The=0.05)  # an R1 distill: the template opened <think>
    unsure = top(No=0.29, The=0.23, Yes=0.07, So=0.05, I=0.04)  # the packaged 135M judge's typical spread
    unsure_off_menu = top(So=0.3, The=0.25, I=0.2, yes=0.01)  # off the menu, but no marker holds half
    assert thinking.thinking_marker(thinking_first) == "<think>"
    assert thinking.thinking_marker(filler_first) == "Okay"
    assert thinking.thinking_marker(unsure) is None and thinking.thinking_marker(unsure_off_menu) is None
    for listed in (thinking_first, filler_first):
        with pytest.raises(VerdictError, match="reasons before it answers") as info:
            choice_distribution(("yes", "no"), Reply(listed))
        assert "judge.extra_body" in str(info.value) and "reward.json_max_tokens" in str(info.value)
    p = choice_distribution(("yes", "no"), Reply(unsure))  # unsure is a soft verdict, as before
    assert p["no"] > p["yes"] > 0.0
    with pytest.raises(VerdictError, match="off-menu reply") as info:
        choice_distribution(("yes", "no"), Reply(unsure_off_menu))
    assert "reasons before it answers" not in str(info.value)


def test_json_verdict_is_read_after_the_reasoning_the_decoy_ignored(
    shape: str, judge_over: Any, tmp_path: Path
) -> None:
    log = tmp_path / "rewards.jsonl"
    with ThinkingServer(shape, reasoning_tokens=None) as server:
        judge = judge_over(server)
        reward = RubricReward(judge, RUBRIC, mode="json", log_path=str(log))
        logged: dict[str, float] = {}
        scores = asyncio.run(reward([PROMPT], ["Boil it for nine minutes."], log_metric=logged.__setitem__))
    assert scores == [1.0]  # the decoy inside the reasoning fails every criterion: it would score 0
    [row] = [json.loads(line) for line in log.read_text().splitlines()]
    full = REASONING_HEAD + json.dumps({c: {"reason": "decoy", "pass": False} for c in ("correct", "polite")})
    full += REASONING_TAIL
    assert row["reasoning"].startswith(REASONING_HEAD) and "characters left out" in row["reasoning"]
    assert len(row["reasoning"]) <= REASONING_CHARS + 50 < len(full)
    assert "decoy" not in json.dumps(row.get("reasons", {}))  # the reasons are the real verdict's
    totals = judge.metrics.totals()
    assert logged["judge/reasoning_tokens"] == totals["reasoning_tokens"]  # the step's training metric
    # No count from the server: an estimate from the reasoning text, and never more than what was billed.
    assert totals["reasoning_tokens"] == math.ceil(len(full.strip()) / 4)
    assert totals["tokens_out"] >= totals["reasoning_tokens"] > 0


def test_the_servers_reasoning_token_count_is_used_and_the_reasoning_is_cached(judge_over: Any, tmp_path: Path) -> None:
    policy = {"cache": True, "cache_path": str(tmp_path / "cache")}
    request = JudgeRequest.chat(PROMPT, max_tokens=600, json_schema={"type": "object", "properties": {"ok": {}}})
    with ThinkingServer("field", reasoning_tokens=123) as server:
        [first] = judge_over(server, policy=policy).generate([request])
        [again] = judge_over(server, policy=policy).generate([request])  # a new judge: read from the disk cache
        assert len(server.bodies) == 1
    assert first.ok and first.reasoning_tokens == 123 and first.reasoning and first.reasoning.startswith("Let me")
    assert again.cached and (again.text, again.reasoning, again.reasoning_tokens) == (first.text, first.reasoning, 123)
    assert json.loads(again.text or "") == {"ok": {"reason": "meets it", "pass": True}}


def test_a_reply_cut_off_in_its_reasoning_is_a_counted_failure_naming_the_budget(shape: str, judge_over: Any) -> None:
    with ThinkingServer(shape, cut=True) as server:
        judge = judge_over(server)
        [grade] = asyncio.run(RubricReward(judge, RUBRIC, mode="json").grade([PROMPT], ["Boil it."], [None]))
    assert grade.score is None and grade.error is not None
    assert "cut off inside its reasoning" in grade.error and "reward.json_max_tokens" in grade.error
    assert grade.details["reasoning"].startswith(REASONING_HEAD)  # what it thought is still shown
    assert judge.metrics.totals()["failures"] == 1


def test_a_thinking_judge_fails_log_prob_grading_and_the_preflight_with_the_fix(shape: str, judge_over: Any) -> None:
    with ThinkingServer(shape) as server:
        judge = judge_over(server)
        logprob = RubricReward(judge, RUBRIC, mode="logprob")
        [grade] = asyncio.run(logprob.grade([PROMPT], ["Boil it."], [None]))
        with pytest.raises(JudgeUnavailableError) as info:
            check_judge_for(judge, logprob)
        # Graded from its written verdict, the same judge passes: its answer was cut off, but it answered.
        assert check_judge_for(judge, RubricReward(judge, RUBRIC, mode="json")) >= 0.0
    assert grade.score is None and "'<think>'" in (grade.error or "")
    for message in (grade.error or "", str(info.value)):
        assert "+judge.extra_body.chat_template_kwargs.enable_thinking=false" in message
        assert "reward.mode=json" in message and "reward.json_max_tokens" in message


def test_an_unsure_judge_passes_the_preflight(flaky: Any) -> None:
    """A judge whose first token is spread thin (a filler word on top, but no marker holding half) is not
    flagged: it answers, and its verdicts are read as before."""
    listed = json.dumps({"So": math.log(0.3), "The": math.log(0.25), "yes": math.log(0.05), "no": math.log(0.04)})
    server = flaky((f"top:{listed}",))
    judge = openai_judge(base_url=server.url, policy=NO_CACHE)
    try:
        assert check_judge_for(judge, RubricReward(judge, RUBRIC, mode="logprob")) >= 0.0
    finally:
        judge.close()


# -- judge.extra_body / judge.additional_fields -------------------------------------------------------------


def test_extra_body_goes_into_every_request_beside_rlaifs_own_fields(flaky: Any) -> None:
    server = flaky()
    extra = {"chat_template_kwargs": {"enable_thinking": False}, "reasoning_effort": "low"}
    judge = openai_judge(base_url=server.url, extra_body=extra, policy=NO_CACHE)
    try:
        judge.generate([JudgeRequest.chat(PROMPT, max_tokens=1, choices=("yes", "no"), logprobs=True)])
        judge.generate([JudgeRequest.chat(PROMPT, max_tokens=9)])
    finally:
        judge.close()
    choices, plain = server.bodies
    assert choices["chat_template_kwargs"] == {"enable_thinking": False} and choices["reasoning_effort"] == "low"
    assert choices["structured_outputs"] == {"choice": ["yes", "no"]}  # rlaif's own field still there
    assert plain["chat_template_kwargs"] == {"enable_thinking": False} and "structured_outputs" not in plain


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("thinking off", "judge.extra_body: expected a mapping"),
        ({"structured_outputs": {"choice": ["a"]}}, "judge.extra_body.structured_outputs: rlaif sets"),
        ({"temperature": 1.0}, "judge.extra_body.temperature: rlaif sets"),
        ({"max_completion_tokens": 4096}, "judge.extra_body.max_completion_tokens: rlaif sets"),
    ],
)
def test_extra_body_is_checked_at_set_up(value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        openai_judge(base_url="http://127.0.0.1:9/v1", extra_body=value)
    with pytest.raises(ConfigError, match=r"judge\.additional_fields: expected a mapping"):
        bedrock_judge(additional_fields=["thinking"])  # type: ignore[arg-type]


def test_a_pools_endpoints_take_extra_body_from_their_template(flaky: Any) -> None:
    server = flaky()
    endpoint = {"_target_": "rlaif.judges.backends.openai_compat.openai_judge", "extra_body": {"top_k": 1}}
    pool = pool_judge([server.url], endpoint=endpoint, policy=NO_CACHE)
    try:
        pool.generate([JudgeRequest.chat(PROMPT, max_tokens=9)])
    finally:
        pool.close()
    assert server.bodies[0]["top_k"] == 1
    with pytest.raises(
        ConfigError, match=r"^judge\.endpoints\[0\]: judge\.endpoint\.extra_body\.temperature: rlaif sets"
    ):
        pool_judge([server.url], endpoint={**endpoint, "extra_body": {"temperature": 2.0}})


def test_judges_differing_only_in_extra_body_never_share_cached_answers(flaky: Any, tmp_path: Path) -> None:
    server = flaky()
    policy = {"cache": True, "cache_path": str(tmp_path / "cache")}
    request = JudgeRequest.chat(PROMPT, max_tokens=9)
    for extra in (None, {"reasoning_effort": "low"}, {"reasoning_effort": "high"}, {"reasoning_effort": "low"}):
        judge = openai_judge(base_url=server.url, extra_body=extra, policy=policy)
        try:
            judge.generate([request])
        finally:
            judge.close()
    assert server.hits == 3  # the second "low" judge read the first one's answer; no other judge did


def test_additional_fields_arrive_as_additional_model_request_fields(
    aws_dummy_env: None, converse_server: Any, converse_reply: Any
) -> None:
    fields = {"reasoningConfig": {"type": "enabled", "budget_tokens": 1024}}
    reasoning = 'The draft verdict {"correct": {"reason": "decoy", "pass": false}} is wrong.'
    converse_server.script(converse_reply.ok("yes", output_tokens=40, reasoning=reasoning))
    converse_server.script(converse_reply.ok("", reasoning="Still weighing"))  # stopped inside the reasoning
    judge = bedrock_judge(endpoint_url=converse_server.url, additional_fields=fields, policy=NO_CACHE)
    try:
        request = JudgeRequest.chat(PROMPT, max_tokens=64, choices=("yes", "no"))
        [answered] = judge.generate([request])
        [cut] = judge.generate([request])
    finally:
        judge.close()
    assert [r.body["additionalModelRequestFields"] for r in converse_server.requests] == [fields, fields]
    assert judge.identity.endswith(':additional_fields={"reasoningConfig":{"budget_tokens":1024,"type":"enabled"}}')
    assert answered.ok and answered.text == "yes" and answered.reasoning == reasoning
    assert answered.reasoning_tokens == math.ceil(len(reasoning) / 4) and answered.tokens_out == 40
    assert choice_distribution(("yes", "no"), answered) == {"yes": 1.0, "no": 0.0}
    assert not cut.ok and "cut off inside its reasoning" in (cut.error or "")
    assert "reward.json_max_tokens" in (cut.error or "")


# -- the entry points ---------------------------------------------------------------------------------------

LABELLED = [
    {"prompt": "How do I boil an egg?", "response": "Boil it for nine minutes.", "label": "pass"},
    {"prompt": "What is 2 + 2?", "response": "4.", "label": "pass"},
]


def entry_point(module: str, *overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", module, *overrides]
    return forked.run(command, timeout=300, env=env)


def labelled(tmp_path: Path) -> str:
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in LABELLED))
    return f"labelled={path}"


def test_judge_eval_and_train_refuse_a_thinking_judge_for_log_prob_verdicts(tmp_path: Path) -> None:
    """Exit 1, the code of a judge that fails its pre-flight request, with the fix named; no policy loaded."""
    with ThinkingServer("block") as server:
        judge = ("judge=vllm", f"judge.base_url={server.url}", "judge.policy.max_retries=0")
        evaluated = entry_point("rlaif.judge_eval", labelled(tmp_path), *judge, f"hydra.run.dir={tmp_path / 'eval'}")
        trained = entry_point("rlaif.train", "reward=rubric", *judge, f"hydra.run.dir={tmp_path / 'run'}")
    for result in (evaluated, trained):
        output = result.stdout + result.stderr
        assert result.returncode == 1, output[-3000:]
        assert f"the judge openai:{server.url}:judge answered a yes/no test request with '<think>' first" in output
        assert "+judge.extra_body.chat_template_kwargs.enable_thinking=false" in output and "reward.mode=json" in output
    assert not (tmp_path / "eval" / "summary.json").exists() and not (tmp_path / "run" / "runs").exists()


def test_judge_eval_grades_a_thinking_judge_from_its_written_verdict(tmp_path: Path) -> None:
    """reward.mode=json: the verdicts are read after the reasoning, whose tokens are counted in the cost; the
    judge's extra_body is sent and recorded in the report. A bad extra_body is exit 2."""
    out = tmp_path / "eval"
    extra = "+judge.extra_body.chat_template_kwargs.enable_thinking=false"
    with ThinkingServer("field", reasoning_tokens=300) as server:
        judge = ("judge=vllm", f"judge.base_url={server.url}", "reward=rubric", "reward.mode=json", extra)
        common = ("audit.enabled=false", "repeats.k=1", "bootstrap.resamples=200", "prices.output_per_million=10")
        result = entry_point("rlaif.judge_eval", labelled(tmp_path), *judge, *common, f"hydra.run.dir={out}")
        bad_body = ("judge.extra_body=[1]", f"hydra.run.dir={tmp_path / 'b'}")
        bad = entry_point("rlaif.judge_eval", labelled(tmp_path), *judge[:4], *bad_body)
    assert result.returncode in (0, 3), (result.stdout + result.stderr)[-3000:]
    assert all(body["chat_template_kwargs"] == {"enable_thinking": False} for body in server.bodies)
    summary = json.loads((out / "summary.json").read_text())
    judge_summary = summary["judge"]
    assert judge_summary["identity"].endswith(':extra_body={"chat_template_kwargs":{"enable_thinking":false}}')
    assert judge_summary["reasoning_tokens"] == 300 * len(LABELLED) and judge_summary["tokens_out"] == 400 * 2
    assert judge_summary["cost_per_1000_judgements"] == pytest.approx(1000 * 400 * 10 / 1e6)
    assert summary["parse_failure_rate"] == 0.0
    report = (out / "report.md").read_text()
    assert "(600 of them reasoning)" in report and '"enable_thinking":false' in report
    assert bad.returncode == 2 and "judge.extra_body: expected a mapping" in bad.stdout + bad.stderr


def test_a_row_rubric_reads_its_items_verdict_after_the_reasoning_and_does_not_retry_a_cut_off_reply(
    shape: str, judge_over: Any, tmp_path: Path
) -> None:
    from rlaif.rewards.row_rubric import RowRubricReward

    extra = json.dumps({"rubric": ["Gives a time.", {"criterion": "Is rude.", "points": -1}]})
    log = tmp_path / "rewards.jsonl"
    with ThinkingServer(shape, reasoning_tokens=None) as server:
        reward = RowRubricReward(judge_over(server), mode="json", log_path=str(log))
        # The server passes every item after its reasoning: the rude pitfall too, so 1 - 1 = 0 of 1 point; the
        # decoy inside the reasoning fails every item, which would score 1.
        assert asyncio.run(reward([PROMPT], ["Nine minutes."], extra=[extra])) == [0.0]
    [row] = [json.loads(line) for line in log.read_text().splitlines()]
    assert row["reasoning"].startswith(REASONING_HEAD) and {v["met"] for v in row["verdicts"].values()} == {1.0}
    with ThinkingServer(shape, cut=True) as server:
        [grade] = asyncio.run(RowRubricReward(judge_over(server), mode="json").grade([PROMPT], ["x"], [None], [extra]))
        assert len(server.bodies) == 1  # a judge failure, not a malformed verdict: no verdict retry
    assert grade.score is None and "reward.json_max_tokens" in (grade.error or "")
    assert grade.details["reasoning"].startswith(REASONING_HEAD)
