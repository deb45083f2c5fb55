"""Position bias of a group judge (``reward=group``), measured: what an answer gains from where it is listed, and
what each ``reward.orders`` setting leaves of that.

    RLAIF_VLLM_PYTHON=/path/to/vllm-venv/bin/python python benchmarks/group_position_bias.py   # starts a server
    python benchmarks/group_position_bias.py --base-url http://127.0.0.1:8000/v1                # uses yours

Every group of the shipped listwise set (``everyday_listwise``, all splits: nothing here is tuned) is judged by
the shipped ``reward=group`` in its G rotations (``orders: cyclic``: each answer at each place once) and in
``orders: both`` (as listed, reversed); the as-listed request is the same in both, and the judge's cache answers
it once. For each answer at each place: its score minus its mean over the rotations, averaged per place, is the
position effect b(place) (score / max_score). Left after averaging, per as-listed place, measured on the replies:
``as_listed`` the as-listed score, ``both`` the mean of as-listed and reversed, each minus the answer's rotation
mean (``cyclic`` leaves 0 by construction). Then each setting's Kendall's tau with the known ranks, as the judge
evaluation computes it (a group scored all alike counts 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from rlaif.data.models import packaged_model_dir
from rlaif.data.packaged import resolve
from rlaif.judges.backends.openai_compat import openai_judge
from rlaif.judges.serving.vllm_server import VLLMServer
from rlaif.rewards.correlation import kendall_tau
from rlaif.rewards.verdicts.parsing import VerdictError


def group_reward(judge: Any, orders: str) -> Any:
    with initialize_config_module("rlaif.conf", version_base="1.3"):
        cfg = compose("train", overrides=["reward=group", "rubric=everyday", f"reward.orders={orders}"])
    return instantiate(cfg.reward, judge=judge, _convert_="all")


def tau(scores: Sequence[float], ranks: Sequence[int]) -> float:
    value = kendall_tau(scores, [-r for r in ranks])
    return 0.0 if value is None else value


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


async def measure(base_url: str, limit: int | None) -> None:
    judge = openai_judge(base_url=base_url, policy={"timeout_s": 600.0, "batch_deadline_s": 3600.0})
    cyclic, both = group_reward(judge, "cyclic"), group_reward(judge, "both")
    rows = [json.loads(line) for line in resolve("labelled", "packaged:everyday_listwise").read_text().splitlines()]
    rows = rows[:limit] if limit else rows
    effect: dict[int, list[float]] = {}  # place -> (score there - the answer's rotation mean)
    left: dict[str, dict[int, list[float]]] = {"as_listed": {}, "both": {}}
    taus: dict[str, list[float]] = {"as_listed": [], "both": [], "cyclic": []}
    failed = 0
    for row in rows:
        answers, n = list(row["responses"]), len(row["responses"])
        try:
            rotations = await cyclic.judge_group(row["prompt"], answers, row.get("reference"))
            two = await both.judge_group(row["prompt"], answers, row.get("reference"))
        except VerdictError:
            failed += 1
            continue
        means = [_mean(s) for s in rotations]
        for k, scores in enumerate(rotations):
            for r, score in enumerate(scores):  # rotation r lists answer k at place (k - r) mod n
                effect.setdefault((k - r) % n, []).append(score - means[k])
            left["as_listed"].setdefault(k, []).append(two[k][0] - means[k])
            left["both"].setdefault(k, []).append(_mean(two[k]) - means[k])
        taus["as_listed"].append(tau([s[0] for s in two], row["ranks"]))
        taus["both"].append(tau([_mean(s) for s in two], row["ranks"]))
        taus["cyclic"].append(tau(means, row["ranks"]))
    judge.close()
    print(f"{len(rows)} groups of 4 (everyday_listwise), {failed} without a verdict; judge {judge.identity}")
    print("place | b(place): mean score gained there (x max_score) | n")
    for place in sorted(effect):
        print(f"{place + 1} | {_mean(effect[place]):+.3f} | {len(effect[place])}")
    print("orders | left per as-listed place 1..4 (score - rotation mean) | largest |left| | tau with known ranks")
    for name in ("as_listed", "both"):
        per_place = [_mean(left[name][k]) for k in sorted(left[name])]
        shown = " ".join(f"{v:+.3f}" for v in per_place)
        print(f"{name} | {shown} | {max(map(abs, per_place)):.3f} | {_mean(taus[name]):.3f}")
    print(f"cyclic | 0 by construction | 0 | {_mean(taus['cyclic']):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--limit", type=int, default=None, help="the first N groups only")
    args = parser.parse_args()
    with ExitStack() as stack:
        base_url = args.base_url or stack.enter_context(VLLMServer(str(packaged_model_dir()))).base_url
        asyncio.run(measure(base_url, args.limit))


if __name__ == "__main__":
    main()
