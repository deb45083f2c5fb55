"""MkDocs hooks (mkdocs.yml ``hooks:``, run by ``make docs``): the site renders our Markdown as GitHub does.

Lists: the pages in docs/ are written for GitHub, which starts a list right after a paragraph line and nests a list
indented by 2 spaces. Python-Markdown (MkDocs' renderer) needs a blank line before a list and 4 spaces per
level, and would otherwise run such a list into the paragraph above it. The source stays as GitHub shows it;
this hook changes only what MkDocs renders: a blank line before a list that follows a paragraph, and the
indentation inside a list doubled (2 -> 4 spaces), fenced code blocks outside lists left alone.

Docstrings: ours name objects with Sphinx roles (``:class:`Judge```), which mkdocstrings shows as ``:class:``
before the code span; the role is dropped and the name stays as code.
"""

from __future__ import annotations

import re
from typing import Any

_ITEM = re.compile(r"^(\s*)([-*+]|\d+\.) ")
_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):(?=<code>)")


def github_lists(markdown: str) -> str:
    """The page with its lists spelled as Python-Markdown reads them (see the module docstring)."""
    out: list[str] = []
    fence: str | None = None  # the fence that opened the code block we are in (``` or ~~~), None outside one
    in_list = False
    for line in markdown.split("\n"):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if fence is None and not in_list and _ITEM.match(line) and indent == 0 and out and out[-1].strip():
            out.append("")  # a list right after a paragraph line
        if fence is None and stripped and indent == 0:
            in_list = bool(_ITEM.match(line))  # an item starts or continues a list; any other line ends it
        if in_list and indent:
            line = " " * (2 * indent) + stripped
        if stripped.startswith(("```", "~~~")):
            marker = stripped[:3]
            fence = marker if fence is None else (None if marker == fence else fence)
        out.append(line)
    return "\n".join(out)


def on_page_markdown(markdown: str, **_: Any) -> str:
    return github_lists(markdown)


def on_page_content(html: str, **_: Any) -> str:
    return _ROLE.sub("", html)
