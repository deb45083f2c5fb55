"""Would the thinking-judge rule flag the packaged (non-thinking) judge? Its first tokens on real requests.

    python benchmarks/thinking_detection.py [--limit 200]

Asks the packaged SmolLM2-135M judge (local transport, top-20) the everyday rubric's yes/no questions about
the packaged pointwise labelled answers (reference shown, as in the default run), plus the pre-flight probe,
and prints how often a thinking marker (rlaif.judges.thinking) is the most likely first token, the largest
share the markers take, the choice mass, and how many requests the rule flags (a marker on top holding at
least THINKING_MIN_MASS with the choices under MIN_CHOICE_MASS). The packaged model must be installed.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from importlib.resources import files

from omegaconf import OmegaConf

from rlaif.judges.backends.local import local_judge
from rlaif.judges.preflight import PROBE
from rlaif.judges.thinking import THINKING_MIN_MASS, is_marker
from rlaif.rewards.prompts.rubric import NO, YES, criterion_request
from rlaif.rewards.rubric_spec import Rubric
from rlaif.rewards.verdicts.choices import choice_distribution
from rlaif.rewards.verdicts.parsing import VerdictError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=200, help="labelled answers (x criteria requests each)")
    args = parser.parse_args()
    conf, data = files("rlaif.conf"), files("rlaif.data")
    spec = OmegaConf.to_container(OmegaConf.load(str(conf / "rubric/everyday.yaml")), resolve=True)
    rubric = Rubric.from_mapping(spec, "rubric")  # type: ignore[arg-type]
    lines = (data / "labelled/everyday_pointwise.jsonl").read_text().splitlines()[: args.limit]
    rows = [json.loads(line) for line in lines]
    asked = [(r["prompt"], r["response"], r.get("reference")) for r in rows]
    requests = [PROBE, *(criterion_request(rubric, c, q, a, ref) for q, a, ref in asked for c in rubric.criteria)]
    judge = local_judge(policy={"cache": False, "timeout_s": 600, "batch_deadline_s": 3600})
    try:
        responses = judge.generate(requests)
    finally:
        judge.close()
    tops: Counter[str] = Counter()
    marker_mass, choice_mass, flagged, off_menu = [], [], 0, 0
    for response in responses:
        first = response.token_logprobs[0] if response.token_logprobs else None
        if first is None:
            continue
        listed = {**first.top}
        listed.setdefault(first.token, first.logprob)
        top = max(listed, key=lambda t: listed[t])
        tops[top.strip()] += 1
        marker_mass.append(sum(math.exp(v) for t, v in listed.items() if is_marker(t)))
        try:
            choice_distribution((YES, NO), response)  # the rule every log-prob verdict goes through
        except VerdictError as exc:
            off_menu += 1
            flagged += "reasons before it answers" in str(exc)
        choice_mass.append(sum(math.exp(v) for t, v in listed.items() if t.strip().casefold() in (YES, NO)))
    n = len(marker_mass)
    markers_on_top = sum(c for t, c in tops.items() if is_marker(t))
    print(f"requests: {n} (the probe and {n - 1} rubric questions)")
    print(f"most likely first tokens: {tops.most_common(8)}")
    print(f"a marker the most likely token: {markers_on_top} of {n}")
    print(f"marker share of the first token: max {max(marker_mass):.3f} (flagging needs {THINKING_MIN_MASS})")
    print(f"yes/no share: min {min(choice_mass):.3f}, median {sorted(choice_mass)[n // 2]:.3f}")
    print(f"off the menu: {off_menu}; of them flagged as thinking: {flagged}")


if __name__ == "__main__":
    main()
