"""Test-wide settings: offline, and one model cache shared by every test of the session."""

from __future__ import annotations

import os

import pytest

# No hub access in tests: a download attempt must fail loudly, never hang.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (installed once when missing and possible; the test is skipped, with why, when not)."""
    try:
        from tests.browser import chromium_path
    except ImportError:
        from browser import chromium_path  # type: ignore[no-redef]

    path, why = chromium_path()
    if path is None:
        pytest.skip(f"no browser for the report tests: {why}")
    return path
