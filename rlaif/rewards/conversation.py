"""Pull the text a judge needs out of TRL's prompt / completion shapes (plain or conversational)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def answer_text(completion: Any) -> str:
    """The policy's answer: a plain string, or the content of the last message of a chat completion. A tool-using
    completion (:func:`has_tool_turns`) that ends on a tool call or a tool result has no final answer: ``""``."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion:
        last = completion[-1]
        if has_tool_turns(completion) and (
            not isinstance(last, Mapping) or last.get("role") == "tool" or last.get("tool_calls")
        ):
            return ""
        return str(_content(last))
    return ""


def has_tool_turns(completion: Any) -> bool:
    """Whether a chat completion called a tool: an assistant turn with ``tool_calls`` or a ``tool`` message."""
    if isinstance(completion, str) or not isinstance(completion, Sequence):
        return False
    return any(isinstance(m, Mapping) and (m.get("tool_calls") or m.get("role") == "tool") for m in completion)


def content_text(message: Any) -> str:
    """A message's text: its ``content`` (text parts of content blocks joined; ``""`` for none)."""
    content = _content(message)
    return "" if content is None else str(content)


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
