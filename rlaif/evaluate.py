"""``python -m rlaif.evaluate adapter=RUN/adapter``: a trained adapter against its base model (or another
adapter, ``baseline=OTHER/adapter``) on held-out prompts training never saw.

Reads top to bottom: eval split (``data.eval_path`` or ``data.eval_fraction``) -> judges (each proven
with one real request): the training judge (``judge``) and any others (``+judge@second_opinions.NAME.judge=...``,
old name ``+judge@judges.NAME=...``) ->
policy + adapter(s) -> both sides answer every prompt (greedy by default) -> every judge grades every
answer with the training reward as configured (``reward``: its gates and checks included) -> per signal
(words, on-topic, language, the reward's checks, each judge's reward) the paired difference adapter −
baseline with a bootstrap interval, independent evidence first and the training judge last
(:mod:`rlaif.evaluation.adapter_signals`) -> per judge, each pair goes to the higher reward (``decide=rubric``) or
to the pairwise judge in both orders (``decide=pairwise``: win only when both orders agree) ->
``summary.json``, ``items.jsonl``, ``report.md`` + ``win_loss.png`` in the run folder.
Exit codes as ``rlaif.train``: 0 done, 2 bad input (nothing of this invocation is left behind), 1
anything else (``FAILED`` in the run folder). The stages: :mod:`rlaif.evaluation.adapter_plan`, then
:mod:`rlaif.evaluation.adapter_eval`.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from rlaif.errors import entry_point
from rlaif.evaluation.adapter_eval import evaluate
from rlaif.evaluation.adapter_outputs import terminal_summary
from rlaif.evaluation.adapter_plan import prepare
from rlaif.runs.run_folder import remove_created

log = logging.getLogger("rlaif.evaluate")


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    with ExitStack() as stack:  # closes every judge (and a server one launched) however it ends
        with entry_point(run_dir, log, remove_created):  # set-up: bad input leaves nothing behind
            plan = prepare(cfg, run_dir, stack)
        with entry_point(run_dir, log):
            summary = evaluate(plan, cfg, run_dir)
    for line in terminal_summary(summary, run_dir):
        log.info("%s", line)


if __name__ == "__main__":
    main()
