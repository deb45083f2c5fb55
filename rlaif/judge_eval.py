"""``python -m rlaif.judge_eval``: measure a judge against labelled answers before it becomes a reward.

The same ``judge=``, ``reward=`` and ``rubric=`` groups as ``rlaif.train`` grade a labelled JSONL set
(``labelled=PATH``): pointwise rows ``{prompt, response, label: pass|fail, criterion?, reference?, kind?}``
(``criterion`` set: the label is about that criterion, score = its P(pass); else score = the rubric's
score) or pairwise rows ``{prompt, response_a, response_b, preferred: a|b, reference?, kind?}`` (needs
``reward=preference``; both orders are judged, score = P(a better) averaged over them). Reported:
agreement and Cohen's κ with bootstrap 95% intervals, AUC for soft scores, accuracy and swap
consistency for pairs, repeat stability, parse failures, latency, tokens and cost, an adversarial audit
and agreement with a second judge. Files: ``report.md`` with charts, ``summary.json``, ``items.jsonl``,
``audit.jsonl``. The pipeline is :mod:`rlaif.evaluation.judge_eval_run`.

Exit codes: 0 every threshold met, 3 the judge failed a threshold (the report is written),
2 bad input (labelled file, config; nothing of this invocation is left behind), 1 anything else.
"""

from __future__ import annotations

import logging
import sys
from contextlib import ExitStack
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from rlaif.errors import EXIT_THRESHOLDS_FAILED, entry_point
from rlaif.evaluation.judge_eval_outputs import terminal_summary
from rlaif.evaluation.judge_eval_run import JudgeEvalResult, run_judge_eval
from rlaif.evaluation.judge_eval_settings import EvalSettings
from rlaif.evaluation.labelled_sets import check_compatible, load_labelled, select_split
from rlaif.runs.judge_and_reward import check_judge_for, open_judge_and_reward
from rlaif.runs.run_folder import remove_created

log = logging.getLogger("rlaif.judge_eval")


def evaluate(cfg: DictConfig, out_dir: Path) -> JudgeEvalResult:
    """Check the input, open the judge(s) and reward(s), prove each judge answers, evaluate."""
    settings = EvalSettings.from_config(cfg)
    labelled = select_split(load_labelled(settings.labelled), settings.split)  # bad rows fail before any model
    second_judge = settings.second_opinion.judge  # second_opinion.judge, or its old name second_judge
    judges = [cfg.judge] if second_judge is None else [cfg.judge, OmegaConf.create(second_judge)]
    with ExitStack() as stack:
        rewards = [stack.enter_context(open_judge_and_reward(judge, cfg.reward))[1] for judge in judges]
        for reward in rewards:
            check_compatible(labelled, reward)
        for reward in rewards:
            check_judge_for(reward.judge, reward)
        second = rewards[1] if len(rewards) > 1 else None
        return run_judge_eval(settings, rewards[0], out_dir, labelled=labelled, second_reward=second)


@hydra.main(version_base="1.3", config_path="conf", config_name="judge_eval")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    with entry_point(out_dir, log, remove_created):
        result = evaluate(cfg, out_dir)
    print(terminal_summary(result.summary, out_dir))
    if not result.passed:
        log.error("rlaif: the judge failed %d threshold(s): %s", len(result.failures), "; ".join(result.failures))
        sys.exit(EXIT_THRESHOLDS_FAILED)


if __name__ == "__main__":
    main()
