"""The on-topic check: does an answer name what the question is about (or share content with the reference)?

A guard where a small judge cannot tell relevance; used as a gate by ``reward=rubric_on_topic`` and as a
deterministic signal by the monitor and ``rlaif.evaluate``.
"""

from __future__ import annotations

import re

from rlaif.rewards.checks import CheckResult
from rlaif.rewards.fencing import normalize

_WORD = re.compile(r"[^\W\d_]+")
# Words that name no subject: question words, auxiliaries, fillers. Everything else of 4+ letters counts.
_NOT_A_SUBJECT = frozenset(
    """what which when where whom whose does should could would will shall might must have been being with
    your yours about make makes made this that these those from there their them they then than into onto
    some best good many much more most very just like need want know tell give explain mean work works
    also other each every only over under after before often keep take takes thing things something
    someone anyone people kind sort ways while well really""".split()  # noqa: SIM905
)


# Words that carry no answer when a reference has them: short function words, and what an assistant says
# when it does not answer (the e6 policy's "I'm a helpful assistant. I'm not sure what to do.").
_NOT_CONTENT = _NOT_A_SUBJECT | frozenset(
    """the and for are but not nor you its has had was were who why how all any our out use may can get got
    too off own see let say says yes now way per via its also even here sure help helpful assistant question
    answer sorry happy glad great please thank think idea information provide detail depend ask able unable
    cannot don doesn didn isn aren wasn won wouldn couldn shouldn hasn haven let understand important
    usually mostly mainly such both while whilst because though another one anything everything nothing
    interesting topic clear talk reason happen full""".split()  # noqa: SIM905
)
# Number words as digits, so "Seven." matches "7" and "5" matches "five". Not "one": it is as often a pronoun
# ("a hard one") as a count, and would let "Ask me one more time." match many references.
_COUNTS = """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
    seventeen eighteen nineteen twenty""".split()  # noqa: SIM905
_NUMBER_WORDS = {w: str(n) for n, w in enumerate(_COUNTS) if w != "one"} | {
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "hundred": "100",
    "thousand": "1000",
    "million": "1000000",
}
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")
# Endings that make a short word's plural or verb form ("atoms", "boiling"); longer words compare on their
# first six letters ("scatter", "scattering"): five let "complicated" match "completely".
_INFLECTIONS = ("", "s", "es", "d", "ed", "ing", "er", "ers")
_STEM = 6


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(normalize(text))]


def _tokens(text: str) -> list[str]:
    """Words (casefolded) and numbers ("300,000" as "300000"; number words as digits)."""
    tokens = []
    for token in _TOKEN.findall(normalize(text)):
        token = token.casefold()
        tokens.append(token.replace(",", "") if token[0].isdigit() else _NUMBER_WORDS.get(token, token))
    return tokens


def _same_word(a: str, b: str) -> bool:
    """One word in two forms: numbers exactly; words of 6+ letters on their first six ("scatters",
    "scattering"); a shorter word when the other is it plus an inflection ("sun", "suns"; not "for", "force")."""
    if a[0].isdigit() or b[0].isdigit():
        return a == b
    if len(a) >= _STEM and len(b) >= _STEM:
        return a[:_STEM] == b[:_STEM]
    short, long_ = sorted((a, b), key=len)
    return long_.startswith(short) and long_[len(short) :] in _INFLECTIONS


def _content(text: str) -> set[str]:
    """The words of ``text`` that can carry an answer: numbers, and words of 3+ letters that are not
    (a form of) a function word or assistant talk."""
    return {
        t
        for t in _tokens(text)
        if t[0].isdigit() or (len(t) >= 3 and not any(_same_word(t, stop) for stop in _NOT_CONTENT))
    }


def _shares(answer: str, wanted: set[str]) -> bool:
    """Whether the answer has one of the ``wanted`` content words (or numbers), in any of its forms."""
    return any(_same_word(said, want) for said in _content(answer) for want in wanted)


class MentionsQuestion:
    """The answer names what the question is about: at least one of the question's subject words (4+
    letters, not a question word or a filler) starts a word of the answer, compared on its first five
    letters so that plurals and verb forms count ("atoms" for "atom", "boiling" for "boil"). A guard
    where the judge cannot tell relevance (the packaged 135M judge cannot, docs/judging.md): rewarded
    for short answers without it, the policy learned "I'm not sure what to do." A question with no
    subject words passes.

    When the row has a reference answer (and ``use_reference``), an answer that shares a content word
    or a number with it passes too: "Tokyo." answers "What is the capital of Japan?" without naming
    Japan, and the terse answer the ``concise`` criterion asks for must not score the minimum. Assistant
    talk ("sure", "help", "question", ...) and function words are not content, so the e6 non-answers
    still fail (measured in docs/judging.md)."""

    def __init__(self, name: str = "on_topic", use_reference: bool = True) -> None:
        self.name, self.use_reference = name, use_reference

    def __call__(self, answer: str, question: str, reference: str | None = None) -> CheckResult:
        subjects = {w[:5] for w in _words(question) if len(w) >= 4 and w not in _NOT_A_SUBJECT}
        said = _words(answer)
        if any(word.startswith(subject) for subject in subjects for word in said):
            return CheckResult(1.0)
        # A reference with content words decides the rest, also where the question has no subject words
        # ("What does a CPU do?"), which would otherwise let any answer through.
        wanted = _content(reference) if self.use_reference and reference is not None else set()
        if wanted:  # the reference's content words, found once
            if _shares(answer, wanted):
                return CheckResult(1.0)
            return CheckResult(0.0, "names none of the question's subject words and nothing of the reference")
        if not subjects:
            return CheckResult(1.0)
        return CheckResult(0.0, "names none of the question's subject words")
