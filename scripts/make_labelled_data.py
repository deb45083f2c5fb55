"""Generate the labelled judge-evaluation sets shipped in ``rlaif/data/labelled/`` (deterministic, no network).

    python scripts/make_labelled_data.py            # rewrites rlaif/data/labelled/everyday_*.jsonl
    python scripts/make_labelled_data.py --out DIR --seed 1

Every row is built from templates whose correct answer is checkable by construction (arithmetic, unit
conversion, capitals, spelling, counting, simple facts) plus a few everyday how-to questions.

Every row carries ``split``: ``dev`` (for tuning prompts and rubrics) or ``test`` (for reporting and the
preflight gate), by the parity of its prompt's SHA-256, so one question never sits on both sides.

Pointwise rows ``{id, prompt, response, label, criterion, reference, kind, split}`` per criterion of the
default rubric (``rlaif/conf/rubric/everyday.yaml``), balanced pass/fail within each:

* ``polite``: the same correct content either ``polite``/``neutral`` (pass) or with an ``insult`` or a
  ``dismissive`` remark (fail).
* ``concise``: the same correct sentence either on its own or after a neutral opener (``short``, pass), or
  wrapped in three to five filler sentences that add nothing (``padded``, fail; at least twice the
  words). Openers are neutral on both sides, so politeness does not give the label away.
* ``criterion: null`` (the answer as a whole): pass ``good`` (correct, polite or neutral, one sentence);
  fail ``wrong_fact`` (a confidently wrong number, capital or word) or ``rude_padded``.

Wrong facts are deliberately NOT labelled under a criterion: the everyday rubric has no correctness
criterion (its packaged judge cannot check one), so these rows measure its known blind spot, while a
reference-aware rubric (``reference_qa``) with a capable judge should fail them.

Pairwise rows ``{id, prompt, response_a, response_b, preferred, reference, kind, split}``: ``correct_vs_wrong``,
``on_topic_vs_off_topic``, ``polite_vs_rude``, ``length_limit`` (one word asked for), ``number_only``
and ``language`` (answer in French/Spanish/German asked for); the preferred side is exactly balanced.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path
from typing import Any, NamedTuple

POINTWISE_FILE = "everyday_pointwise.jsonl"
PAIRWISE_FILE = "everyday_pairwise.jsonl"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "rlaif" / "data" / "labelled"


class Question(NamedTuple):
    domain: str
    prompt: str
    answer: str  # a correct one-sentence answer, also the row's reference
    wrong: str | None  # the same sentence made wrong; None where "wrong" is not checkable (how-to)
    short: str | None  # the bare answer (a number or one word) for format and length tasks


CAPITALS = [
    ("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Germany", "Berlin"),
    ("Canada", "Ottawa"), ("Australia", "Canberra"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"), ("Peru", "Lima"),
    ("Norway", "Oslo"), ("Sweden", "Stockholm"), ("Portugal", "Lisbon"), ("Greece", "Athens"), ("Ireland", "Dublin"),
    ("Poland", "Warsaw"), ("Austria", "Vienna"), ("Hungary", "Budapest"), ("Thailand", "Bangkok"),
    ("Russia", "Moscow"), ("China", "Beijing"), ("Chile", "Santiago"), ("Cuba", "Havana"), ("Finland", "Helsinki"),
    ("Denmark", "Copenhagen"), ("Belgium", "Brussels"), ("Turkey", "Ankara"), ("Iran", "Tehran"),
    ("South Korea", "Seoul"), ("Vietnam", "Hanoi"), ("Morocco", "Rabat"), ("Nigeria", "Abuja"),
]  # fmt: skip
UNITS = [
    ("metres", "centimetres", 100), ("kilometres", "metres", 1000), ("hours", "minutes", 60),
    ("minutes", "seconds", 60), ("kilograms", "grams", 1000), ("litres", "millilitres", 1000),
    ("days", "hours", 24), ("weeks", "days", 7), ("feet", "inches", 12), ("years", "months", 12),
]  # fmt: skip
WORDS = [
    "apple", "garden", "window", "rocket", "pencil", "orange", "basket", "candle", "bridge", "forest", "silver",
    "planet", "yellow", "summer", "market", "island", "button", "castle", "dragon", "flower", "guitar", "helmet",
    "jacket", "kitten", "ladder", "mirror", "needle", "pepper", "rabbit", "tunnel", "banana", "letter", "coffee",
    "balloon", "cherry",
]  # fmt: skip
FACTS = [
    ("How many days are in a week?", "There are 7 days in a week.", "There are 8 days in a week.", "7"),
    ("How many legs does a spider have?", "A spider has 8 legs.", "A spider has 6 legs.", "8"),
    ("How many sides does a hexagon have?", "A hexagon has 6 sides.", "A hexagon has 8 sides.", "6"),
    ("How many sides does a triangle have?", "A triangle has 3 sides.", "A triangle has 4 sides.", "3"),
    ("How many hours are in a day?", "There are 24 hours in a day.", "There are 20 hours in a day.", "24"),
    ("How many months are in a year?", "There are 12 months in a year.", "There are 10 months in a year.", "12"),
    ("How many days are in a leap year?", "A leap year has 366 days.", "A leap year has 365 days.", "366"),
    ("At what temperature in Celsius does water freeze at sea level?", "Water freezes at 0 °C at sea level.",
     "Water freezes at 10 °C at sea level.", "0"),
    ("At what temperature in Celsius does water boil at sea level?", "Water boils at 100 °C at sea level.",
     "Water boils at 90 °C at sea level.", "100"),
    ("How many planets are in the Solar System?", "There are 8 planets in the Solar System.",
     "There are 12 planets in the Solar System.", "8"),
    ("How many players does a soccer team have on the field?", "A soccer team has 11 players on the field.",
     "A soccer team has 9 players on the field.", "11"),
    ("How many strings does a standard guitar have?", "A standard guitar has 6 strings.",
     "A standard guitar has 5 strings.", "6"),
    ("What colour do you get by mixing blue and yellow?", "Mixing blue and yellow gives green.",
     "Mixing blue and yellow gives purple.", "Green"),
    ("What is the largest ocean on Earth?", "The Pacific is the largest ocean on Earth.",
     "The Atlantic is the largest ocean on Earth.", "Pacific"),
    ("Which planet is closest to the Sun?", "Mercury is the planet closest to the Sun.",
     "Venus is the planet closest to the Sun.", "Mercury"),
    ("What gas do plants take from the air to make sugar?", "Plants take in carbon dioxide to make sugar.",
     "Plants take in helium to make sugar.", None),
    ("In which country are the pyramids of Giza?", "The pyramids of Giza are in Egypt.",
     "The pyramids of Giza are in Mexico.", "Egypt"),
    ("How many bones are in the adult human body?", "An adult human body has 206 bones.",
     "An adult human body has 106 bones.", "206"),
]  # fmt: skip
HOWTO = [
    ("How do I boil an egg?", "Put the egg in boiling water for about 9 minutes, then cool it in cold water."),
    ("How do I remove a coffee stain from a shirt?",
     "Rinse the stain with cold water, rub in a little liquid detergent and wash the shirt as usual."),
    ("How can I keep bread fresh for longer?",
     "Keep it in a bread box or paper bag at room temperature, and freeze slices you will not eat soon."),
    ("How do I unclog a slow bathroom sink?",
     "Pour in baking soda and then vinegar, wait fifteen minutes, and flush it with hot water."),
    ("How do I stop a nosebleed?", "Sit up, lean forward and pinch the soft part of your nose for ten minutes."),
    ("How should I store fresh herbs?", "Stand the stems in a glass of water in the fridge, loosely covered."),
    ("How do I get rid of hiccups?", "Hold your breath for a few seconds or sip cold water slowly."),
    ("How can I save energy at home?", "Switch off lights you are not using, use LED bulbs and lower the heating."),
    ("How do I clean a cast-iron pan?", "Scrub it with hot water and a brush, dry it well and wipe on a little oil."),
    ("How do I cool down a hot drink quickly?", "Pour it into a wide cup and stir it, or add an ice cube."),
    ("How can I remember people's names better?",
     "Repeat the name when you hear it and link it to something about the person."),
    ("How do I defrost frozen chicken safely?",
     "Thaw it in the fridge overnight, or in cold water changed every half hour, never on the counter."),
    ("How often should I water a cactus?", "Water it deeply only when the soil is completely dry, every few weeks."),
    ("How do I fix a squeaky door hinge?", "Put a few drops of oil on the hinge pin and swing the door a few times."),
    ("How do I clean a microwave?", "Heat a bowl of water with lemon juice for a few minutes, then wipe it out."),
    ("How do I keep cut apples from turning brown?", "Brush the slices with lemon juice or soak them in salt water."),
]  # fmt: skip
NUMBER_WORDS = {
    "English": "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty",
    "French": "zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize "
    "dix-sept dix-huit dix-neuf vingt",
    "Spanish": "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
    "dieciséis diecisiete dieciocho diecinueve veinte",
    "German": "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn fünfzehn "
    "sechzehn siebzehn achtzehn neunzehn zwanzig",
}
THE_ANSWER_IS = {"English": "The answer is", "French": "La réponse est", "Spanish": "La respuesta es",
                 "German": "Die Antwort ist"}  # fmt: skip

NEUTRAL_OPENERS = ["{a}", "{a}", "{a}", "Sure. {a}", "{a} Hope that helps."]
POLITE = ["Sure! {a}", "Happy to help: {a}", "{a} Hope that helps!", "Good question! {a}",
          "Of course. {a} Let me know if you need anything else."]  # fmt: skip
INSULT = ["{a} Honestly, only an idiot would need to ask that.", "Are you stupid? {a}",
          "{a} Seriously, use your brain next time.", "What a dumb question. {a}",
          "{a} Even a child knows that, you moron."]  # fmt: skip
DISMISSIVE = ["Ugh, fine. {a} Now stop bothering me.", "{a} Look it up yourself next time, I have better things to do.",
              "Whatever. {a} Don't waste my time again.", "Not this again. {a} Go away.",
              "{a} Figure it out on your own next time and leave me alone."]  # fmt: skip
# Sentences that add nothing to an answer: the ``padded`` rows of the ``concise`` criterion.
FILLER = [
    "That is a really interesting thing to ask about.", "Many people have wondered about this over the years.",
    "There are a lot of different factors to consider here.", "Let me explain this in a bit more detail.",
    "It is always good to know these kinds of things.", "This comes up more often than you might think.",
    "I will try to give you a clear and complete answer.", "People often talk about this topic at great length.",
    "It really depends on how you look at it.", "Here is what you need to know about it.",
    "I hope the explanation below makes everything clear.", "This is something that everyone should know.",
]  # fmt: skip
LONG_TAILS = [
    " I went through this carefully, thinking about every detail and checking it twice, because a complete and "
    "thorough explanation with plenty of background is usually more helpful than a single word on its own.",
    " To give you the full picture, it is worth adding that this is a question many people ask, that there is a "
    "lot of interesting history behind it, and that it is always good to double-check such things yourself.",
]


def question_bank(rng: random.Random) -> list[Question]:
    """About 140 distinct questions with checkable answers, the same for a given generator state."""
    bank: list[Question] = []
    seen: set[str] = set()
    while len(bank) < 30:
        op = rng.choice("+-×")
        if op == "+":
            a, b = rng.randint(10, 99), rng.randint(10, 99)
        elif op == "-":
            a, b = rng.randint(50, 99), rng.randint(10, 49)
        else:
            a, b = rng.randint(3, 15), rng.randint(3, 12)
        c = a + b if op == "+" else a - b if op == "-" else a * b
        prompt = f"What is {a} {op} {b}?"
        if prompt not in seen:
            seen.add(prompt)
            slip = c + rng.choice([-2, -1, 1, 2, 10])  # never negative: the smallest result is 9
            bank.append(Question("arithmetic", prompt, f"{a} {op} {b} = {c}.", f"{a} {op} {b} = {slip}.", str(c)))
    while len(bank) < 50:
        big, small, factor = rng.choice(UNITS)
        n = rng.randint(2, 9)
        prompt = f"How many {small} are in {n} {big}?"
        if prompt not in seen:
            seen.add(prompt)
            off = (n + rng.choice([-1, 1])) * factor  # the classic off-by-one-unit slip
            answer, wrong = f"{n} {big} is {n * factor} {small}.", f"{n} {big} is {off} {small}."
            bank.append(Question("units", prompt, answer, wrong, str(n * factor)))
    for country, city in CAPITALS:
        other = rng.choice([c for _, c in CAPITALS if c != city])
        answer = f"The capital of {country} is {city}."
        wrong = answer.replace(city, other)
        bank.append(Question("capitals", f"What is the capital of {country}?", answer, wrong, city))
    for k, word in enumerate(rng.sample(WORDS, 30)):
        bank.append(_spelling_question(rng, word, k % 3))
    bank += [Question("facts", p, a, w, s) for p, a, w, s in FACTS]
    bank += [Question("howto", p, a, None, None) for p, a in HOWTO]
    return bank


def _spelling_question(rng: random.Random, word: str, task: int) -> Question:
    if task == 0:
        rev = word[::-1]
        i = next(i for i in range(len(rev) - 1) if rev[i] != rev[i + 1])
        slip = rev[:i] + rev[i + 1] + rev[i] + rev[i + 2 :]  # two letters swapped
        prompt = f"What is the word '{word}' spelled backwards?"
        return Question("spelling", prompt, f"'{word}' spelled backwards is '{rev}'.",
                        f"'{word}' spelled backwards is '{slip}'.", rev)  # fmt: skip
    if task == 1:
        wrong = len(word) + rng.choice([-2, -1, 1, 2])
        prompt = f"How many letters are in the word '{word}'?"
        return Question("spelling", prompt, f"The word '{word}' has {len(word)} letters.",
                        f"The word '{word}' has {wrong} letters.", str(len(word)))  # fmt: skip
    letter = max(sorted(set(word)), key=word.count)  # the most frequent letter: counting it takes care
    count = word.count(letter)
    wrong = count + 1 if count == 1 or rng.random() < 0.5 else count - 1

    def times(n: int) -> str:
        return "once" if n == 1 else f"{n} times"

    prompt = f"How many times does the letter '{letter}' appear in '{word}'?"
    return Question("spelling", prompt, f"The letter '{letter}' appears {times(count)} in '{word}'.",
                    f"The letter '{letter}' appears {times(wrong)} in '{word}'.", str(count))  # fmt: skip


def _pointwise(q: Question, response: str, label: str, criterion: str | None, kind: str) -> dict[str, Any]:
    return {"id": "", "prompt": q.prompt, "response": response, "label": label, "criterion": criterion,
            "reference": q.answer, "kind": kind}  # fmt: skip


def _other(rng: random.Random, q: Question, bank: list[Question], same_domain: bool) -> Question:
    """Another question whose answer cannot pass for this one's (same domain or a different one)."""
    pool = [
        o
        for o in bank
        if (o.domain == q.domain) == same_domain and o.prompt != q.prompt and (q.short is None or o.short != q.short)
    ]
    return rng.choice(pool)


def _padded(rng: random.Random, answer: str) -> str:
    before, after = rng.randint(2, 3), rng.randint(1, 2)
    filler = rng.sample(FILLER, before + after)
    return " ".join([*filler[:before], answer, *filler[before:]])


def _concise_rows(rng: random.Random, bank: list[Question], n: int) -> list[dict[str, Any]]:
    rows = []
    for k, q in enumerate(rng.sample(bank, 2 * n)):
        if k < n:
            rows.append(_pointwise(q, rng.choice(NEUTRAL_OPENERS).format(a=q.answer), "pass", "concise", "short"))
        else:
            rows.append(_pointwise(q, _padded(rng, q.answer), "fail", "concise", "padded"))
    return rows


def _polite_rows(rng: random.Random, bank: list[Question], n: int) -> list[dict[str, Any]]:
    rows = []
    for k, q in enumerate(rng.sample(bank, 2 * n)):
        kind = ["polite", "neutral", "insult", "dismissive"][(k >= n) * 2 + k % 2]
        template = {"polite": POLITE, "neutral": ["{a}"], "insult": INSULT, "dismissive": DISMISSIVE}[kind]
        label = "pass" if k < n else "fail"
        rows.append(_pointwise(q, rng.choice(template).format(a=q.answer), label, "polite", kind))
    return rows


def _whole_rows(rng: random.Random, bank: list[Question], n: int) -> list[dict[str, Any]]:
    checkable = [q for q in bank if q.wrong]
    rows = []
    for k, q in enumerate(rng.sample(checkable, 2 * n)):
        if k < n:
            text = rng.choice(POLITE + NEUTRAL_OPENERS).format(a=q.answer)
            rows.append(_pointwise(q, text, "pass", None, "good"))
        elif k % 3:
            assert q.wrong is not None
            rows.append(_pointwise(q, rng.choice(NEUTRAL_OPENERS).format(a=q.wrong), "fail", None, "wrong_fact"))
        else:
            text = rng.choice(INSULT + DISMISSIVE).format(a=_padded(rng, q.answer))
            rows.append(_pointwise(q, text, "fail", None, "rude_padded"))
    return rows


def build_pointwise(seed: int = 0) -> list[dict[str, Any]]:
    """Pointwise rows: 100 per everyday criterion and 60 for the whole answer, half pass in each, shuffled."""
    rng = random.Random(seed)
    bank = question_bank(rng)
    sections = [
        ("po", _polite_rows(rng, bank, 50)),
        ("co", _concise_rows(rng, bank, 50)),
        ("all", _whole_rows(rng, bank, 30)),
    ]
    rows = []
    for prefix, section in sections:
        for k, row in enumerate(section, start=1):
            row["id"] = f"{prefix}-{k:03d}"
            rows.append(row)
    rng.shuffle(rows)  # so a `limit` on the file still sees every criterion and both labels
    return rows


def _pair(q: Question, better: str, worse: str, kind: str, prompt: str | None = None) -> dict[str, Any]:
    return {"prompt": prompt or q.prompt, "better": better, "worse": worse, "reference": q.answer, "kind": kind}


def _pairs(rng: random.Random, bank: list[Question]) -> list[dict[str, Any]]:
    checkable = [q for q in bank if q.wrong]
    one_word = [q for q in bank if q.short and " " not in q.short and q.domain in ("capitals", "facts", "arithmetic")]
    numeric = [q for q in bank if q.short and q.short.isdigit()]
    pairs = []
    for q in rng.sample(checkable, 30):
        opener = rng.choice(NEUTRAL_OPENERS)
        assert q.wrong is not None
        pairs.append(_pair(q, opener.format(a=q.answer), opener.format(a=q.wrong), "correct_vs_wrong"))
    for q in rng.sample(bank, 25):
        off = _other(rng, q, bank, same_domain=rng.random() < 0.5)
        pairs.append(_pair(q, q.answer, off.answer, "on_topic_vs_off_topic"))
    for q in rng.sample(bank, 25):
        rude = rng.choice(INSULT + DISMISSIVE).format(a=q.answer)
        pairs.append(_pair(q, rng.choice([*POLITE, "{a}"]).format(a=q.answer), rude, "polite_vs_rude"))
    for q in rng.sample(one_word, 15):
        prompt = f"Answer in one word only. {q.prompt}"
        pairs.append(_pair(q, f"{q.short}.", q.answer + rng.choice(LONG_TAILS), "length_limit", prompt))
    for q in rng.sample(numeric, 15):
        prompt = f"Reply with the number only, no words. {q.prompt}"
        worse = rng.choice([q.answer, f"The answer is {q.short}."])
        pairs.append(_pair(q, str(q.short), worse, "number_only", prompt))
    sums: set[tuple[int, int]] = set()
    while len(sums) < 10:
        a, b = rng.randint(1, 10), rng.randint(1, 10)
        if (a, b) in sums:
            continue
        sums.add((a, b))
        language = ["French", "Spanish", "German"][len(sums) % 3]
        words = {lang: NUMBER_WORDS[lang].split()[a + b] for lang in THE_ANSWER_IS}
        prompt = f"Answer in {language}, writing the number as a word: what is {a} + {b}?"
        better = f"{THE_ANSWER_IS[language]} {words[language]}."
        q = Question("language", prompt, better, None, words[language])
        pairs.append(_pair(q, better, f"{THE_ANSWER_IS['English']} {words['English']}.", "language"))
    return pairs


def build_pairwise(seed: int = 0) -> list[dict[str, Any]]:
    """120 preference pairs with an objectively better side, the preferred side exactly half 'a'."""
    rng = random.Random(seed + 1_000_003)  # its own stream: the pairwise file never shifts the pointwise one
    bank = question_bank(rng)
    pairs = _pairs(rng, bank)
    # Consecutive pairs (same kind, apart from one straddling each odd-sized kind) get opposite sides in a
    # random order: random per pair, exactly half 'a' overall and within one of half inside every kind.
    sides: list[str] = []
    for _ in range(0, len(pairs), 2):
        sides += rng.choice([["a", "b"], ["b", "a"]])
    sides = sides[: len(pairs)]
    order = list(range(len(pairs)))
    rng.shuffle(order)
    rows = []
    for k, index in enumerate(order, start=1):
        p, side = pairs[index], sides[index]
        a, b = (p["better"], p["worse"]) if side == "a" else (p["worse"], p["better"])
        rows.append({"id": f"pair-{k:03d}", "prompt": p["prompt"], "response_a": a, "response_b": b,
                     "preferred": side, "reference": p["reference"], "kind": p["kind"]})  # fmt: skip
    return rows


def split_of(prompt: str) -> str:
    """``dev`` or ``test``, fixed by the prompt's text: every row of one question lands in the same split."""
    return "test" if int(hashlib.sha256(prompt.encode("utf-8")).hexdigest(), 16) % 2 else "dev"


def _dump(path: Path, rows: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_bytes(text.encode("utf-8"))  # bytes: the same file on every platform


def write(folder: Path, seed: int = 0) -> list[Path]:
    """Write both files into ``folder`` (created if needed); returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / POINTWISE_FILE, folder / PAIRWISE_FILE]
    for path, rows in zip(paths, (build_pointwise(seed), build_pairwise(seed)), strict=True):
        _dump(path, [{**row, "split": split_of(row["prompt"])} for row in rows])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: rlaif/labelled)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in write(args.out, args.seed):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
