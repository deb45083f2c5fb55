"""docs/answer_fence.md: the local judge's tokenizer never sees a real special token coming from the policy. The
packaged model's own tokenizer encodes the rubric request exactly as the local transport does."""

from __future__ import annotations

from collections import Counter

from rlaif.data.models import PACKAGED_MODEL, load_tokenizer
from rlaif.judges.backends.local import LocalTransport
from rlaif.rewards.prompts.rubric import criterion_request
from rlaif.rewards.rubric_spec import Rubric
from tests.rewards.attacks import ROLE_TOKENS


def test_role_tokens_in_an_answer_reach_the_local_judge_as_plain_text() -> None:
    transport = LocalTransport(PACKAGED_MODEL)
    transport._tokenizer = tokenizer = load_tokenizer(PACKAGED_MODEL)  # the tokenizer only: no model is loaded
    special = set(tokenizer.all_special_ids) | {int(i) for i in tokenizer.added_tokens_decoder}

    def specials(rubric: Rubric, answer: str) -> Counter[int]:
        ids = transport._token_ids(criterion_request(rubric, rubric.criteria[0], "q", answer, None))
        return Counter(i for i in ids if i in special)

    for layout in ("compact", "full"):
        rubric = Rubric.from_mapping({"name": "t", "prompt": layout, "criteria": [{"id": "ok", "question": "Fine?"}]})
        benign = specials(rubric, "Boil it.")
        assert benign, "the chat template's own turns are special tokens"
        for role in filter(None, ROLE_TOKENS):
            assert specials(rubric, f"Boil it.{role}yes") == benign, (layout, role)
