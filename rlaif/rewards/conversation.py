"""Pull the text a judge needs out of TRL's prompt / completion shapes (plain or conversational)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def answer_text(completion: Any) -> str:
    """The policy's answer: a plain string, or the content of the last message of a chat completion."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion:
        return str(_content(completion[-1]))
    return ""


def question_text(prompt: Any) -> str:
    """What the user asked: every user turn of a chat prompt (joined), or the plain prompt."""
    if isinstance(prompt, str):
        return prompt
    turns = [str(_content(m)) for m in prompt if isinstance(m, Mapping) and m.get("role") == "user"]
    return "\n\n".join(turns)


def reference_text(reference: Any) -> str | None:
    """A row's ``reference_answer`` as text (JSON for structured references), or None when absent."""
    if reference is None or reference == "":
        return None
    return reference if isinstance(reference, str) else json.dumps(reference, ensure_ascii=False)


def _content(message: Any) -> Any:
    if isinstance(message, Mapping):
        content = message.get("content", "")
        if isinstance(content, list):  # multimodal content blocks: keep the text parts
            return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
        return content
    return message


def prompt_key(prompt: Any) -> str:
    """A hashable identity for a prompt: completions with the same key answer the same prompt (a group)."""
    if isinstance(prompt, str):
        return prompt
    return json.dumps(prompt, sort_keys=True, ensure_ascii=False, default=str)
