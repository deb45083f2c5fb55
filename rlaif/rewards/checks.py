"""Deterministic checks: cheap, exact, and in front of the judge (step 6 of the method).

A check maps ``(answer, question)`` to a :class:`CheckResult` with a score in [0, 1]: 1 passes, 0
fails, and a value in between is a penalty (the length check decays outside its tolerance). A check
whose ``__call__`` takes a ``reference`` keyword also gets the row's reference answer (None when the
row has none); checks written with two arguments keep working and are called without it.

Two ways to use them:

- **as gates inside a judge reward** (``checks:`` of :class:`~rlaif.rewards.rubric.RubricReward` or
  :class:`~rlaif.rewards.preference.PreferenceReward`, see ``reward=rubric_with_checks``): a 0 scores
  the answer 0 with no judge call; otherwise the judge's score is multiplied by the product of the
  check scores. A judge failure stays ``None``: the recommended composite.
- **as a TRL reward function of their own** (:class:`CheckReward`, ``reward=checks``), listed beside a
  judge reward with ``reward_weights``. Mind the *nansum trap*: TRL sums the functions with
  ``nansum``, so when the judge reward returns ``None`` for a row the check reward's value alone
  becomes that row's reward. A judge failure then looks like a (possibly perfect) score instead of
  "unscorable". Put the checks inside the judge reward unless you want exactly that.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from rlaif.errors import ConfigError
from rlaif.rewards import language
from rlaif.rewards.conversation import question_text, reference_text
from rlaif.rewards.fencing import normalize
from rlaif.rewards.rubric_spec import json_schema
from rlaif.rewards.run_log import RewardLine, RewardLog
from rlaif.rewards.step_numbers import step_being_taken
from rlaif.rewards.transcript import judged_answer

# The languages py3langid may answer with; a short list makes short texts far more reliable.
DEFAULT_LANGUAGES = tuple("en fr de es it pt nl pl ru uk tr sv da no fi cs ro hu el zh ja ko ar he hi id vi th".split())  # noqa: SIM905
_CODE_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(.*)\n```$", re.DOTALL)


@dataclass(frozen=True)
class CheckResult:
    """Score in [0, 1] (1 pass, 0 fail, between: a penalty) and a short, content-free reason."""

    score: float
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.score >= 1.0


class Check(Protocol):
    """A deterministic check; ``name`` keys its metrics (``<reward>/check/<name>/pass_rate``)."""

    name: str

    def __call__(self, answer: str, question: str, reference: str | None = None) -> CheckResult: ...


class NonEmpty:
    """Fails answers with fewer than ``min_chars`` non-whitespace characters."""

    def __init__(self, min_chars: int = 1, name: str = "non_empty") -> None:
        self.min_chars, self.name = min_chars, name

    def __call__(self, answer: str, question: str, reference: str | None = None) -> CheckResult:
        chars = len("".join(answer.split()))
        return CheckResult(1.0) if chars >= self.min_chars else CheckResult(0.0, f"{chars} characters")


class JsonValid:
    """The answer parses as JSON (optionally inside one Markdown code fence) and matches ``schema``."""

    def __init__(
        self, schema: Mapping[str, Any] | None = None, allow_code_fence: bool = True, name: str = "json_valid"
    ) -> None:
        # Validated now, with a message naming the key, instead of failing on the first answer.
        self.schema = json_schema(schema, f"checks.{name}.schema") if schema is not None else None
        self.allow_code_fence, self.name = allow_code_fence, name
        self._validator: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_validator": None}

    def parse(self, answer: str) -> Any:
        """The answer's JSON value; raises ``ValueError`` when it is not JSON."""
        text = answer.strip()
        if self.allow_code_fence and (match := _CODE_FENCE.match(text)):
            text = match.group(1).strip()
        return json.loads(text)

    def __call__(self, answer: str, question: str, reference: str | None = None) -> CheckResult:
        try:
            value = self.parse(answer)
        except ValueError as exc:
            return CheckResult(0.0, f"not JSON: {str(exc)[:120]}")
        if self.schema is None:
            return CheckResult(1.0)
        if self._validator is None:
            from jsonschema import Draft202012Validator

            self._validator = Draft202012Validator(self.schema)
        error = _best_error(self._validator, value)
        return CheckResult(1.0) if error is None else CheckResult(0.0, f"schema: {error}")


def _best_error(validator: Any, value: Any) -> str | None:
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message[:160]}"


class LengthPenalty:
    """1 within ``target`` ± ``tolerance`` words (or characters), then linear down to 0 over ``falloff`` more."""

    def __init__(
        self,
        target: int,
        tolerance: int,
        unit: Literal["words", "chars"] = "words",
        falloff: int | None = None,
        name: str = "length",
    ) -> None:
        if unit not in ("words", "chars"):
            raise ConfigError(f"checks.{name}.unit: expected words or chars, got {unit!r}")
        if target < 0 or tolerance < 0 or (falloff is not None and falloff <= 0):
            raise ConfigError(f"checks.{name}: target and tolerance must be >= 0 and falloff > 0")
        self.target, self.tolerance, self.unit, self.name = target, tolerance, unit, name
        self.falloff = falloff if falloff is not None else max(tolerance, 1)

    def __call__(self, answer: str, question: str, reference: str | None = None) -> CheckResult:
        n = len(answer.split()) if self.unit == "words" else len(answer.strip())
        excess = abs(n - self.target) - self.tolerance
        if excess <= 0:
            return CheckResult(1.0)
        return CheckResult(max(0.0, 1.0 - excess / self.falloff), f"{n} {self.unit}, target {self.target}")


class LanguageMatch:
    """The answer is in the prompt's language. Fails only when the difference is certain (script, or both
    texts confidently identified); short or mixed texts pass, so the check never punishes what it cannot tell."""

    def __init__(
        self,
        languages: Sequence[str] = DEFAULT_LANGUAGES,
        min_words: int = 4,
        min_confidence: float = 0.9,
        name: str = "language",
    ) -> None:
        self.languages, self.name = tuple(languages), name
        self.min_words, self.min_confidence = min_words, min_confidence

    def __call__(self, answer: str, question: str, reference: str | None = None) -> CheckResult:
        asked = language.guess(question, self.languages, self.min_words, self.min_confidence)
        said = language.guess(answer, self.languages, self.min_words, self.min_confidence)
        if language.same_language(asked, said) is False:
            asked_in, said_in = asked.language or asked.script, said.language or said.script
            return CheckResult(0.0, f"asked in {asked_in}, answered in {said_in}")
        return CheckResult(1.0)


class RegexFilter:
    """Fails answers matching any of ``patterns`` (a rule-based safety filter). Matching runs on the
    NFKC-folded text without invisible characters, so fullwidth or zero-width spellings do not slip by."""

    def __init__(self, patterns: Sequence[str], ignore_case: bool = True, name: str = "safety") -> None:
        if not patterns:
            raise ConfigError(f"checks.{name}.patterns: give at least one regular expression")
        self.patterns, self.ignore_case, self.name = tuple(patterns), ignore_case, name
        flags = re.IGNORECASE if ignore_case else 0
        try:
            self._compiled = [re.compile(p, flags) for p in self.patterns]
        except re.error as exc:
            raise ConfigError(f"checks.{name}.patterns: {exc.pattern!r}: {exc}") from None

    def __call__(self, answer: str, question: str, reference: str | None = None) -> CheckResult:
        text = normalize(answer)
        for index, pattern in enumerate(self._compiled):
            if pattern.search(text):
                return CheckResult(0.0, f"matched pattern #{index}")  # not the text: it may be what we ban
        return CheckResult(1.0)


@dataclass
class Gated:
    """What the checks decided for one answer before any judge call."""

    multiplier: float  # product of the check scores; 0 means gated out: score 0, no judge call
    results: dict[str, CheckResult] = field(default_factory=dict)
    reason: str | None = None  # why it was gated out

    @property
    def open(self) -> bool:
        return self.multiplier > 0.0


def takes_reference(check: Check) -> bool:
    """Whether ``check`` accepts the ``reference`` keyword (a check written for ``(answer, question)`` does not)."""
    try:
        params = inspect.signature(check).parameters.values()
    except (TypeError, ValueError):  # a callable without a signature: call it the old way
        return False
    return any(p.name == "reference" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def apply_gates(
    checks: Sequence[Check],
    answers: Sequence[str],
    questions: Sequence[str],
    references: Sequence[str | None] | None = None,
) -> list[Gated]:
    """The edge rule (an empty answer scores 0) and then every check, for every answer. ``references`` are
    the rows' reference answers as text (None where a row has none), passed to the checks that take them."""
    refs = references if references is not None else [None] * len(answers)
    with_ref = {c.name: takes_reference(c) for c in checks}
    gated = []
    for answer, question, reference in zip(answers, questions, refs, strict=True):
        if not answer.strip():
            gated.append(Gated(0.0, reason="edge rule: empty answer"))
            continue
        results = {
            c.name: c(answer, question, reference=reference) if with_ref[c.name] else c(answer, question)
            for c in checks
        }
        multiplier = math.prod(r.score for r in results.values())
        failed = [f"{n}: {r.reason}" for n, r in results.items() if r.score <= 0.0]
        gated.append(Gated(multiplier, results, f"gate failed: {'; '.join(failed)}" if failed else None))
    return gated


def check_pass_rates(gated: Sequence[Gated]) -> dict[str, float]:
    """Share of answers that passed each check (answers the edge rule stopped are not counted)."""
    names = {n for g in gated for n in g.results}
    rates = {}
    for name in sorted(names):
        seen = [g.results[name].passed for g in gated if name in g.results]
        rates[name] = sum(seen) / len(seen)
    return rates


class CheckReward:
    """Deterministic checks as one TRL reward function (no judge): the product of the check scores.

    ``judge`` is accepted and ignored so that ``reward=checks`` works with the same instantiation as
    the judge rewards. Beside a judge reward, read the nansum trap in this module's docstring.
    """

    def __init__(
        self, checks: Sequence[Check], name: str = "checks", judge: Any = None, log_path: str | None = None
    ) -> None:
        if not checks:
            raise ConfigError("reward.checks: give at least one check")
        self.checks = list(checks)
        self.__name__ = name  # TRL logs rewards/<__name__>/mean
        self.log = RewardLog(log_path)

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        questions = [question_text(p) for p in prompts]
        answers = [judged_answer(c) for c in completions]  # checks read the final answer; the log, the transcript
        references = [reference_text(r) for r in kwargs.get("reference_answer") or [None] * len(answers)]
        gated = apply_gates(self.checks, answers, questions, references)
        scores: list[float | None] = [g.multiplier for g in gated]
        if (log_metric := kwargs.get("log_metric")) is not None:
            for check, rate in check_pass_rates(gated).items():
                log_metric(f"{self.__name__}/check/{check}/pass_rate", rate)
        step = step_being_taken(kwargs.get("trainer_state"))
        ids = kwargs.get("id") or [None] * len(answers)
        self.log.write_step(
            step,
            self.__name__,
            [
                RewardLine(
                    prompt_id=ids[i],
                    prompt=questions[i],
                    reference=references[i],
                    completion=answers[i],
                    score=scores[i],
                    judged=False,  # checks only: no judge is asked
                    rationale={"gate": g.reason} if g.reason else {},  # as the judge rewards log a gated answer
                    details={"checks": {n: r.score for n, r in g.results.items()}},
                )
                for i, g in enumerate(gated)
            ],
        )
        return scores
