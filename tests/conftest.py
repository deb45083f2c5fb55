"""Test-wide settings: offline, and one model cache shared by every test of the session."""

from __future__ import annotations

import os

# No hub access in tests: a download attempt must fail loudly, never hang.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
