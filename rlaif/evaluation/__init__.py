"""Numbers about judges and adapters: statistics, labelled sets, the adversarial audit, the baseline, and the
judge-evaluation and adapter-evaluation pipelines that ``rlaif.judge_eval`` and ``rlaif.evaluate`` run."""
