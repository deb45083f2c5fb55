"""What a per-row rubric costs on a real vLLM judge: requests, prompt tokens computed and time per answer.

    RLAIF_VLLM_PYTHON=.venv-vllm/bin/python python benchmarks/row_rubric_cost.py   # starts a server, ~4 min on 2 cores

Workload: ``--questions`` rows of the shipped ``everyday_rubrics`` set (their own rubric items) x 4 answers each
(the reference answer, a thankful one, a padded one, a terse one), graded through ``reward=row_rubric``'s own
requests (rlaif/rewards/prompts/row_rubric.py). Every run tags its questions with a tag of its own, so no run reuses
another's prefix cache. Three sides, each timed ``--repeats`` times in alternated order (benchmarks/abba.py):

- ``logprob``, as shipped: one request per item, the question and the answer first and the item last, so the
  requests about one answer share their opening;
- ``logprob, item first``: the same requests with the item moved before the question (the file rubric's compact
  layout): requests about one item share their opening instead;
- ``json``: one request per answer grading all its items (``json_max_tokens`` 512 as shipped).

Printed: requests per answer, prompt tokens sent and computed per answer (computed = ``vllm:prompt_tokens_total`` -
``vllm:prefix_cache_hits_total``: a count, not a time), the prefix-cache hit rate, seconds per batch (median and
range) and each side's time over the shipped side's.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from abba import Ratio, median, timed_rounds
from judge_costs import FILLER, counters, hits, judged

from rlaif.data.loaders import read_rows
from rlaif.data.models import packaged_model_dir
from rlaif.judges.protocol import JudgeRequest
from rlaif.judges.serving.vllm_server import VLLMServer
from rlaif.rewards.prompts.row_rubric import item_question, item_request, items_request
from rlaif.rewards.row_rubric import row_rubric_of
from rlaif.rewards.row_rubric_spec import RowRubric

Unit = tuple[RowRubric, str, str]  # (the row's rubric, the question, the answer)


def workload(path: str, questions: int, tag: str = "") -> list[Unit]:
    """``questions`` rows x 4 answers, each with its row's rubric; ``tag`` opens every question."""
    units = []
    for row in read_rows(path)[:questions]:
        rubric = row_rubric_of(row["extra"], row["id"])
        question = f"{tag} {row['prompt'][-1]['content']}" if tag else row["prompt"][-1]["content"]
        reference = row["reference_answer"] or "It depends on what you need."
        for answer in (reference, f"Thanks for asking! {reference}", reference + FILLER * 3, reference.split(".")[0]):
            units.append((rubric, question, answer))
    return units


def item_first(request: JudgeRequest, item_text: str) -> JudgeRequest:
    """The shipped request with the item moved to the front of the user turn (same words otherwise)."""
    system, user = request.messages
    asked = f"{item_text}\nReply with yes or no only."
    body = user["content"].removesuffix(f"\n\n{asked}")
    return JudgeRequest.chat([system, {"role": "user", "content": f"{asked}\n\n{body}"}], **_options(request))


def _options(request: JudgeRequest) -> dict[str, Any]:
    return {k: getattr(request, k) for k in ("max_tokens", "choices", "logprobs", "top_logprobs")}


def requests_for(side: str, units: Sequence[Unit]) -> list[JudgeRequest]:
    if side == "json":
        return [items_request(rubric, q, a, None, max_tokens=512) for rubric, q, a in units]
    shipped = [(item_request(it, q, a, None), item_question(it)) for rubric, q, a in units for it in rubric.items]
    return [r if side == "logprob" else item_first(r, text) for r, text in shipped]


SIDES = ("logprob", "logprob, item first", "json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="packaged:everyday_rubrics", help="rows with a rubric field")
    parser.add_argument("--questions", type=int, default=4, help="rows per timed batch (4 answers each)")
    parser.add_argument("--repeats", type=int, default=4, help="timed runs per side (ABBA order)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (rlaif's vLLM default)")
    args = parser.parse_args()
    python = os.environ.get("RLAIF_VLLM_PYTHON")
    if not python:
        raise SystemExit("set RLAIF_VLLM_PYTHON to a python with vLLM (make test builds .venv-vllm)")
    answers = len(workload(args.data, args.questions))
    with VLLMServer(str(packaged_model_dir()), python=python) as server:
        for side in SIDES:  # warm-up on the tag "warm": grammars compiled, clients made; not counted
            judged(server, requests_for(side, workload(args.data, 1, tag="warm")), args.concurrency)
        counted: dict[str, dict[str, float]] = {}
        for side in SIDES:  # one counted run per side, on its own tag
            requests = requests_for(side, workload(args.data, args.questions, tag=f"(count {side})"))
            before = counters(server)
            judged(server, requests, args.concurrency)
            after = counters(server)
            counted[side] = {k: after[k] - before[k] for k in after} | {"requests": float(len(requests))}

        def run(side: str) -> Callable[[int], object]:
            return lambda k: judged(
                server, requests_for(side, workload(args.data, args.questions, tag=f"({side} {k})")), args.concurrency
            )

        seconds = timed_rounds([run(side) for side in SIDES], args.repeats)
    print(f"{args.questions} rows x 4 answers = {answers} answers per batch, {args.repeats} repeats, 1 vLLM CPU server")
    print("side | requests/answer | prompt tokens sent/answer | computed/answer | prefix-cache hit rate | s/batch")
    for side, times in zip(SIDES, seconds, strict=True):
        c = counted[side]
        computed = c["prompt_tokens_total"] - c["prefix_cache_hits_total"]
        print(
            f"{side} | {c['requests'] / answers:.2f} | {c['prompt_tokens_total'] / answers:.0f} | "
            f"{computed / answers:.0f} | {hits(c):.2f} | {median(times):.2f} [{min(times):.2f}, {max(times):.2f}]"
        )
    for k in (1, 2):
        print(Ratio(seconds[k], seconds[0]).describe(SIDES[k], SIDES[0]))


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"took {time.perf_counter() - started:.0f} s")
