"""How often the packaged policy writes a tool call before any training, per way of asking.

    python benchmarks/tool_call_probe.py [--rows 8] [--samples 4]     # ~1 minute per variant on 2 cores

The base SmolLM2-135M-Instruct, sampled as ``experiment=tool_use`` samples it (temperature 1.0, the
``trl:qwen2_5`` chat template with the calculator's tool schema in the system turn), on the first ``--rows``
questions of ``packaged:calculator`` with the call format shown three ways: nowhere but the template (the
format line removed from the user turn), as an example in the system turn, and in the user turn (the shipped
rows). A completion counts when it contains ``<tool_call>``.
"""

from __future__ import annotations

import argparse
import json

import torch

from rlaif.data.models import load_causal_lm, load_tokenizer
from rlaif.data.packaged import packaged_file
from rlaif.environments.calculator import Calculator
from rlaif.runs.environments import read_chat_template

MODEL = "packaged:smollm2-135m-instruct"
FORMAT = "\nUse the calculator first. Reply in this format:\n"


def variants(messages: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    system, user = dict(messages[0]), dict(messages[-1])
    question, _, example = user["content"].partition(FORMAT)
    plain = {**user, "content": question}
    shown = {**system, "content": system["content"] + FORMAT + example}
    return {
        "template only": [system, plain],
        "format in system turn": [shown, plain],
        "format in user turn": [system, user],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()
    tokenizer = load_tokenizer(MODEL)
    tokenizer.chat_template = read_chat_template("trl:qwen2_5")
    model = load_causal_lm(MODEL, "float32")
    lines = packaged_file("prompts", "calculator").read_text().splitlines()[: args.rows]
    rows = [json.loads(line)["messages"] for line in lines]
    for name in variants(rows[0]):
        torch.manual_seed(0)
        calls = total = 0
        for messages in rows:
            inputs = tokenizer.apply_chat_template(
                variants(messages)[name],
                tools=[Calculator().calculate],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )
            out = model.generate(
                **inputs,
                do_sample=True,
                temperature=1.0,
                max_new_tokens=args.max_new_tokens,
                num_return_sequences=args.samples,
                pad_token_id=tokenizer.eos_token_id,
            )
            for ids in out:
                total += 1
                calls += "<tool_call>" in tokenizer.decode(ids[inputs["input_ids"].shape[1] :])
        print(f"{name}: {calls}/{total} completions with a tool call")


if __name__ == "__main__":
    main()
