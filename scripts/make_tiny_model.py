"""Build a tiny random-initialised chat model folder for checks where no real checkpoint can travel.

    python scripts/make_tiny_model.py OUT_DIR [--hidden 64] [--layers 2] [--vocab 1024] [--seed 0]

The folder works as ``policy.name_or_path=OUT_DIR`` and ``judge.model=OUT_DIR``: a Llama model (safetensors,
float32; ``policy.dtype`` decides the dtype at load), a byte-level BPE tokenizer trained here on the prompts and
rubrics rlaif ships (so the check's text tokenises into real sub-words), and a ChatML chat template. Nothing is
downloaded; it needs only torch, transformers and tokenizers, and takes about a second. The weights are random:
the model exercises every code path (generation, LoRA, the judge's log-probabilities) but says nothing sensible.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# SmolLM2's template, shortened: ChatML turns, and the assistant header when a generation prompt is asked for.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def corpus() -> list[str]:
    """Text to train the tokenizer on: every string of rlaif's shipped prompts, labelled sets and rubrics."""
    root = Path(__file__).resolve().parents[1] / "rlaif"
    texts = ["yes no Yes No" for _ in range(50)]  # frequent enough to be whole tokens
    for pattern in ("data/prompts/*.jsonl", "data/labelled/*.jsonl"):
        for path in sorted(root.glob(pattern)):
            for line in path.read_text().splitlines():
                if line.strip():
                    texts.extend(_strings(json.loads(line)))
    texts.extend(path.read_text() for path in sorted((root / "conf" / "rubric").glob("*.yaml")))
    return texts


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def build_tokenizer(vocab: int) -> object:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token="<|im_start|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def torch_no_grad(fn):  # type: ignore[no-untyped-def]
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        import torch

        with torch.no_grad():
            return fn(*args, **kwargs)

    return wrapper


def build(out: Path, hidden: int = 64, layers: int = 2, vocab: int = 1024, seed: int = 0) -> Path:
    """Write the tokenizer and a random-initialised LlamaForCausalLM into ``out``; return ``out``."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer: object = build_tokenizer(vocab)
    size = len(tokenizer)  # type: ignore[arg-type]
    ids = {name: tokenizer.convert_tokens_to_ids(name) for name in SPECIAL}  # type: ignore[attr-defined]
    config = LlamaConfig(
        vocab_size=size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        bos_token_id=ids["<|im_start|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    lean_to_verdicts(model, tokenizer)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)  # type: ignore[attr-defined]
    return out


def verdict_tokens(tokenizer: object, choices: tuple[str, ...] = ("yes", "no")) -> list[int]:
    """Ids whose text, stripped and lower-cased, starts one choice and no other (how rlaif reads a verdict)."""
    ids = []
    for token_id in range(len(tokenizer)):  # type: ignore[arg-type]
        text = tokenizer.decode([token_id]).strip().lower()  # type: ignore[attr-defined]
        if text and sum(choice.startswith(text) for choice in choices) == 1:
            ids.append(token_id)
    return ids


@torch_no_grad
def lean_to_verdicts(model: object, tokenizer: object) -> None:
    """Make a random model answer "yes"/"no" often enough for the judge to read verdicts from it.

    Random weights spread the next token nearly uniformly, so yes/no tokens would hold ~0.5% of the mass and
    every verdict would be off the menu (rlaif wants 2%). Every embedding gets a constant first feature, which the
    final norm turns into a large, input-independent component; the output rows of the verdict tokens weigh it,
    so they lead by a few logits. Their other weights are larger than the rest, so P(yes) still varies by input.
    """
    import torch

    embed = model.get_input_embeddings().weight  # type: ignore[attr-defined]
    head = model.get_output_embeddings().weight  # type: ignore[attr-defined]
    embed[:, 0] = 1.0
    head[:, 0] = 0.0
    rows = torch.tensor(verdict_tokens(tokenizer))
    generator = torch.Generator().manual_seed(1)
    head[rows] = torch.randn(len(rows), head.shape[1], generator=generator)
    head[rows, 0] = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = build(args.out, args.hidden, args.layers, args.vocab, args.seed)
    print(f"tiny model in {out} ({sum(p.stat().st_size for p in out.iterdir()) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
