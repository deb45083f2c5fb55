"""Nova RFT reward-Lambda payloads in the shapes AWS documents, and a judge that answers by the request.

Shapes (the texts of the AWS examples, with answers that name the question's subject so the default
on-topic gate lets them through):
- BEDROCK: Bedrock RFT docs (reward-functions.html): ``reference_answer`` and custom keys under ``metadata``;
- SAGEMAKER: SageMaker "implementing reward functions": ``reference_answer`` at the root;
- EVALUATION: SageMaker RFT evaluation: role ``nova_assistant``, ``content`` as a list of text blocks.
"""

from __future__ import annotations

import copy
from typing import Any

QUESTION = "Do you have a dedicated security team?"
REFERENCE = {
    "compliant": "No",
    "explanation": "As an AI developed by Company, I do not have a traditional security team...",
}
POLITE_SHORT = "Thanks for asking: no dedicated security team here."
LONG = (
    "No, there is no dedicated security team, because as an AI developed by Amazon I do not have staff, "
    "offices, departments or any of the other things an organisation with a security team would have."
)


def bedrock_sample(sample_id: str, answer: str) -> dict[str, Any]:
    return {
        "id": sample_id,
        "messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": answer}],
        "metadata": {"reference_answer": copy.deepcopy(REFERENCE), "my_key": "sample-001"},
    }


def sagemaker_sample(sample_id: str, answer: str) -> dict[str, Any]:
    return {
        "id": sample_id,
        "messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": answer}],
        "reference_answer": copy.deepcopy(REFERENCE),
    }


def evaluation_sample(sample_id: str, answer: str) -> dict[str, Any]:
    return {
        "id": sample_id,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
            {"role": "nova_assistant", "content": [{"type": "text", "text": answer}]},
        ],
        "reference_answer": copy.deepcopy(REFERENCE),
    }


SHAPES = {"bedrock": bedrock_sample, "sagemaker": sagemaker_sample, "evaluation": evaluation_sample}


def judge_reply(text: str) -> str:
    """What the fake judge says to one rubric request of the ``everyday`` rubric, from the answer in it.

    polite ("Is the answer polite...?"): yes when the answer thanks; concise ("Is the answer long?"): yes when
    it has more than 12 words. So a short thankful answer scores (0.25 + 1) / 1.25 = 1.0, a long one without
    thanks 0.0, a short one without thanks 0.8.
    """
    answer = text.rsplit("Answer:", 1)[-1]
    if text.startswith("Is the answer long?"):
        return "yes" if len(answer.split()) > 12 else "no"
    if text.startswith("Is the answer polite"):
        return "yes" if "thank" in answer.lower() else "no"
    return "no"


def request_text(body: dict[str, Any]) -> str:
    return "".join(block.get("text", "") for block in body["messages"][-1]["content"])
