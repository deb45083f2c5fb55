"""One self-contained HTML page: Jinja2 templates (escaping on) from ``rlaif/reporting/templates``, the style
and the script inlined, written atomically. A page loads nothing: no CDN, no font, no image file, so it opens
offline and from an e-mail attachment. Also turns an evaluation's ``report.md`` into its ``report.html``.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

_IMAGE = re.compile(r'<img([^>]*?) src="([^":]+\.png)"')


def render(template: str, **context: Any) -> str:
    """``template`` (a file in ``templates/``) filled with ``context``; the page style is ``style``."""
    return _environment().get_template(template).render(**context)


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder: a reader sees the old file or the
    new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named by process, opened as any file (mkstemp's would be private, 0600): the page gets the user's umask.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def markdown_page(markdown_path: Path, title: str) -> Path:
    """``report.md`` beside it as ``report.html``: the same text, its PNG charts embedded, the report style."""
    import markdown

    body = markdown.markdown(markdown_path.read_text(encoding="utf-8"), extensions=["tables", "fenced_code"])
    body = _IMAGE.sub(lambda m: f'<img{m.group(1)} src="{_data_uri(markdown_path.parent / m.group(2))}"', body)
    html = render("markdown_page.html.j2", title=title, body=body)
    return write_atomic(markdown_path.with_suffix(".html"), html)


def _data_uri(png: Path) -> str:
    if not png.is_file():
        return png.name  # a chart that was not drawn: the page shows its alt text, as the markdown does
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=PackageLoader("rlaif.reporting", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,  # a name the template uses and the code did not pass is an error, not a gap
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = _num
    return environment


def _num(value: Any, digits: int = 3) -> str:
    """A number as the report prints it: ``-`` for none, integers without decimals."""
    if value is None or isinstance(value, bool):
        return "-" if value is None else str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}f}"
    return str(value)
