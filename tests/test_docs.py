"""The documentation: README.md stays a front page (short, every link resolves, its docs links are pages of the
site), and the site built from docs/ by ``make docs`` (mkdocs.yml) builds in strict mode, which fails on a broken
link, a missing anchor or a page left out of the nav.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# [text](target) and ![alt](target), but not inside code spans; web links are not checked (no network).
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _relative_links(text: str) -> list[str]:
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    return [t for t in LINK.findall(prose) if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def _nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    return []


def _config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


def test_the_readme_is_short_and_every_relative_link_in_it_resolves() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    links = _relative_links(text)
    assert any(link.startswith("docs/") for link in links)  # the parser found the links at all
    missing = [link for link in links if not (ROOT / link.split("#", 1)[0]).exists()]
    assert missing == []


def test_every_docs_page_the_readme_links_to_is_a_page_of_the_site() -> None:
    """Linked as docs/NAME.md, a page works on GitHub; listed in the nav, the strict build renders it."""
    nav = set(_nav_pages(_config()["nav"]))
    linked = {link.split("#", 1)[0].removeprefix("docs/") for link in _relative_links(README.read_text("utf-8"))}
    pages = {link for link in linked if link.endswith(".md") and (ROOT / "docs" / link).is_file()}
    assert pages and pages <= nav, pages - nav


# A path that climbs out of the page's folder (not the "..." of an elided path such as outputs/.../adapter).
CLIMB = re.compile(r"(?<![.\w])(?:\.\./)+[^\s)`'\"#]*")


def test_the_readme_and_the_docs_name_no_path_outside_the_repository() -> None:
    """They stand on their own: no text names the folder the checkout sits in, and every ``../`` path, read from
    its page's folder, is a file of the repository."""
    pages = [README, *sorted((ROOT / "docs").rglob("*.md"))]
    texts = {path: path.read_text("utf-8") for path in pages}
    outside = str(ROOT.parent) + "/"
    assert [str(p) for p, t in texts.items() if outside in t] == []
    climbing = [(p, m) for p, t in texts.items() for m in CLIMB.findall(t)]
    assert climbing  # the pattern finds the API pages' links back to the guides
    escaping = [f"{p.relative_to(ROOT)}: {m}" for p, m in climbing if not _inside(p.parent / m)]
    assert escaping == []


def _inside(path: Path) -> bool:
    resolved = path.resolve()
    return resolved.is_relative_to(ROOT) and resolved.exists()


def _mkdocs(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed: it comes with the docs extra (pip install -e '.[docs]', or make docs)")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config)]
    command += ["--site-dir", str(site)]
    env = {"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent), "HOME": str(site.parent)}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=site.parent)


def test_the_site_builds_in_strict_mode_with_the_api_reference(tmp_path: Path) -> None:
    done = _mkdocs(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "WARNING" not in done.stderr
    # mkdocstrings rendered the public API from the code (an anchor per object), not an empty page.
    api = (tmp_path / "site" / "api" / "open_reward" / "index.html").read_text("utf-8")
    assert 'id="rlaif.integrations.in_process.RewardFunction"' in api
    assert 'id="rlaif.open_reward"' in api  # rlaif's lazy attribute, resolved to its definition
    judges = (tmp_path / "site" / "api" / "judges" / "index.html").read_text("utf-8")
    assert 'id="rlaif.judges.pool.JudgePool"' in judges and 'id="rlaif.judges.jury.Jury"' in judges
    # The hook (scripts/mkdocs_hooks.py): a list right after a paragraph line and 2-space nesting render as lists,
    # as on GitHub, and a docstring's Sphinx role shows as the plain name.
    nova = (tmp_path / "site" / "nova" / "index.html").read_text("utf-8")
    assert "<li><code>on_judge_error=raise</code> fails the whole invocation" in nova
    assert "raises <code>rlaif.errors.ConfigError</code>" in api and ":class:" not in api


def test_a_broken_link_and_a_page_left_out_of_the_nav_fail_the_build(tmp_path: Path) -> None:
    """What mkdocs.yml's validation settings promise: each of these is a warning, and strict makes it fatal."""
    docs = tmp_path / "docs"
    docs.mkdir()
    config = _config()
    for page in _nav_pages(config["nav"]):  # the pages alone: the API pages are checked by the build above
        if not page.startswith("api/"):
            (docs / page).write_text((ROOT / "docs" / page).read_text("utf-8"), encoding="utf-8")
    for image in (ROOT / "docs").glob("*.png"):
        (docs / image.name).write_bytes(image.read_bytes())
    with (docs / "data.md").open("a", encoding="utf-8") as page:
        page.write("\n[a page](no_such_page.md) and [an anchor](quickstart.md#no-such-heading)\n")
    (docs / "left_out.md").write_text("# Not in the nav\n", encoding="utf-8")
    config["nav"] = [item for item in config["nav"] if "API reference" not in item]
    config["plugins"] = ["search"]
    config["docs_dir"] = str(docs)
    config["hooks"] = [str(ROOT / hook) for hook in config["hooks"]]
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    done = _mkdocs(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    for expected in ("left_out.md", "no_such_page.md", "#no-such-heading"):
        assert expected in done.stderr, expected
