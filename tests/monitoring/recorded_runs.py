"""Run folders as ``rlaif.train`` leaves them, written for the monitor's tests: an e6-like run (the reward rises
while answers stop naming the question's subject) and a healthy one (the reward wanders, answers stay on topic)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

QUESTIONS = {
    "everyday-001": ("How do I boil an egg?", "Put the egg in boiling water for about 7 minutes."),
    "everyday-002": ("Why is the sky blue?", "Air molecules scatter short blue wavelengths of sunlight."),
    "everyday-003": ("What is a carbohydrate?", "A sugar, starch or fibre the body turns into energy."),
    "everyday-004": ("How do plants make food?", "By photosynthesis: light, water and carbon dioxide into sugar."),
}
ON_TOPIC = {
    "everyday-001": "Boil the egg for seven minutes, then cool it in cold water.",
    "everyday-002": "The sky looks blue because air scatters blue sunlight the most.",
    "everyday-003": "A carbohydrate is a sugar or starch that gives your body energy.",
    "everyday-004": "Plants make food from light, water and air by photosynthesis.",
}
NON_ANSWER = "I'm a helpful assistant. I'm not sure what to do."


def rewards_lines(steps: int, hacked: bool, seed: int = 0) -> list[dict[str, Any]]:
    """``steps`` steps of 2 prompts x 4 answers. ``hacked``: the share of non-answers and the reward both grow."""
    rng = random.Random(seed)
    ids = sorted(QUESTIONS)
    lines = []
    for step in range(steps):
        drift = step / max(1, steps - 1) if hacked else 0.0
        for prompt_id in rng.sample(ids, 2):
            question = QUESTIONS[prompt_id][0]
            for _ in range(4):
                off = rng.random() < 0.9 * drift
                base = 0.50 + (0.08 if off else 0.0)
                score = round(min(1.0, max(0.0, rng.gauss(base, 0.03))), 4)
                lines.append(
                    {
                        "step": step,
                        "reward": "rubric",
                        "prompt_id": prompt_id,
                        "prompt": question,
                        "completion": NON_ANSWER if off else ON_TOPIC[prompt_id],
                        "score": score,
                        "judged": True,
                        "verdicts": {"concise": score},
                        "rationale": {},
                        "error": None,
                    }
                )
    return lines


def write_run(path: Path, steps: int = 24, hacked: bool = True, hydra: dict[str, Any] | None = None) -> Path:
    """A run folder with ``rewards.jsonl`` only (an "old" run), plus ``.hydra/config.yaml`` when ``hydra`` is given."""
    path.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(line) + "\n" for line in rewards_lines(steps, hacked))
    (path / "rewards.jsonl").write_text(text)
    if hydra is not None:
        from omegaconf import OmegaConf

        (path / ".hydra").mkdir()
        OmegaConf.save(OmegaConf.create(hydra), path / ".hydra" / "config.yaml")
    return path
