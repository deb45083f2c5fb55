"""Which language a text is written in, for the language-consistency check. Says "unknown" rather than guess.

Two signals, cheapest first:

1. the writing system (Unicode script of the letters): a Russian prompt answered in Latin letters
   is caught without any model, for every script Unicode names;
2. for texts in the same script, ``py3langid`` (BSD-3, pure Python + numpy, its naive-Bayes model
   bundled in the wheel, nothing downloaded at run time), restricted to a configured language list.
   It is unreliable on a few words (``"How do I boil an egg?"`` came out as Nigerian Pidgin among 97
   languages), so a language is only reported past ``min_words`` words and ``min_confidence``.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Kana means Japanese; Han alone may be Chinese or Japanese, so the two are compatible.
_COMPATIBLE = {frozenset({"HAN", "JAPANESE"})}
_MODELS: dict[tuple[str, ...], Any] = {}
_MODELS_LOCK = threading.Lock()


@dataclass(frozen=True)
class LanguageGuess:
    """The dominant script (None: no letters) and the language (None: not confidently known)."""

    script: str | None
    language: str | None


def dominant_script(text: str) -> str | None:
    """The script most letters of ``text`` are written in (``LATIN``, ``CYRILLIC``, ``HAN``, ...)."""
    counts: Counter[str] = Counter()
    for ch in text:
        if ch.isalpha():
            counts[_script(ch)] += 1
    if not counts:
        return None
    if counts.get("JAPANESE", 0) >= 0.1 * sum(counts.values()):  # kanji-heavy Japanese still has kana
        return "JAPANESE"
    return counts.most_common(1)[0][0]


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    first = name.split(" ", 1)[0]
    if first in ("HIRAGANA", "KATAKANA"):
        return "JAPANESE"
    if first == "CJK":
        return "HAN"
    if first in ("FULLWIDTH", "HALFWIDTH"):  # fullwidth Latin letters, halfwidth katakana
        return "JAPANESE" if "KATAKANA" in name else "LATIN"
    return first or "UNKNOWN"


def guess(text: str, languages: Sequence[str], min_words: int = 4, min_confidence: float = 0.9) -> LanguageGuess:
    """Script and, when the text is long enough and the model sure enough, the ISO 639-1 language."""
    script = dominant_script(text)
    if script is None or len(text.split()) < min_words:
        return LanguageGuess(script, None)
    language, confidence = _model(tuple(languages)).classify(text)
    return LanguageGuess(script, str(language) if confidence >= min_confidence else None)


def same_language(a: LanguageGuess, b: LanguageGuess) -> bool | None:
    """True / False when the two are known to agree / differ, None when it cannot be told."""
    if a.script is None or b.script is None:
        return None
    if a.script != b.script and frozenset({a.script, b.script}) not in _COMPATIBLE:
        return False
    if a.language is None or b.language is None:
        return None
    return a.language == b.language


def _model(languages: tuple[str, ...]) -> Any:
    # Loading takes ~0.5 s: once per process and language list, never pickled with a reward.
    with _MODELS_LOCK:
        if languages not in _MODELS:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            if languages:
                identifier.set_languages(list(languages))
            _MODELS[languages] = identifier
        return _MODELS[languages]
