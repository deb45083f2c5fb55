"""Opening a page as a person would: Debian's Chromium, headless, driven by Playwright (never its own browser
download). :func:`chromium_path` installs the ``chromium`` package when it is missing and the tests run as root
with apt; elsewhere the browser tests are skipped with the reason. :func:`open_page` fails on any console
error, uncaught script error or failed resource load."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Chromium reaches for Google's hosts at start unless told not to; this machine's closed network refuses them.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> tuple[str | None, str]:
    """(the browser, "") or (None, why there is none and how to get one)."""
    if found := _found():
        return found, ""
    if not shutil.which("apt-get"):
        return None, "no Chromium and no apt-get to install it (install Chromium; it is looked for at /usr/bin)"
    if os.geteuid() != 0:
        return None, "no Chromium, and installing Debian's chromium package needs root: apt-get install chromium"
    with open("/tmp/rlaif-chromium-install.lock", "w") as lock:  # one install when several sessions test at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _found():
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
            done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
            if done.returncode != 0:  # a stale package list: refresh it once and try again
                subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True, env=env, timeout=600)
                done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
            if done.returncode != 0:
                return None, f"apt-get install chromium failed: {done.stderr.strip()[-500:]}"
    return _found(), ""


def _found() -> str | None:
    return next((c for c in CANDIDATES if Path(c).is_file()), None)


class PageProblems(list[str]):
    """What went wrong while a page loaded and ran: console errors, script errors, failed requests."""


@contextmanager
def open_page(executable: str, path: Path, timeout_ms: int = 60_000) -> Iterator[tuple[Any, PageProblems]]:
    """``path`` open in headless Chromium: (the Playwright page, the problems seen so far)."""
    from playwright.sync_api import sync_playwright

    problems = PageProblems()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(timeout_ms)
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed to load {r.url}: {r.failure}"))
            page.goto(path.resolve().as_uri(), wait_until="load", timeout=timeout_ms)
            yield page, problems
        finally:
            browser.close()
