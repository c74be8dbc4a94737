"""English morphology for the corpus: third person -s, past tense, plurals and a/an, with spelling rules."""

from __future__ import annotations

import re

__all__ = ["third_person", "past_tense", "pluralize", "with_article", "IRREGULAR_PAST", "IRREGULAR_PLURAL"]

IRREGULAR_PAST = {"eat": "ate", "drink": "drank", "read": "read", "see": "saw", "buy": "bought",
                  "make": "made", "write": "wrote", "meet": "met", "sleep": "slept", "run": "ran",
                  "swim": "swam", "sing": "sang", "go": "went", "come": "came"}
IRREGULAR_PLURAL = {"child": "children", "man": "men", "woman": "women", "mouse": "mice", "fish": "fish"}
_CONSONANT_Y = re.compile(r"[^aeiou]y$")


def _word(value: str, name: str) -> str:
    """A non-empty lower-case English word or phrase; TypeError/ValueError naming `name` otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name}={value!r} must be a non-empty English word")
    return value


def third_person(base: str) -> str:
    """He/she/it form: eat→eats, go→goes, wash→washes, study→studies, play→plays."""
    base = _word(base, "base")
    if _CONSONANT_Y.search(base):
        return base[:-1] + "ies"
    if base.endswith(("s", "sh", "ch", "x", "z", "o")):
        return base + "es"
    return base + "s"


def past_tense(base: str) -> str:
    """Simple past: irregulars from a table, else like→liked, cry→cried, stop→stopped, walk→walked."""
    base = _word(base, "base")
    if base in IRREGULAR_PAST:
        return IRREGULAR_PAST[base]
    if base.endswith("e"):
        return base + "d"
    if _CONSONANT_Y.search(base):
        return base[:-1] + "ied"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgmnprt]", base):  # one short syllable: stop→stopped
        return base + base[-1] + "ed"
    return base + "ed"


def pluralize(noun: str) -> str:
    """cat→cats, fox→foxes, baby→babies, monkey→monkeys, child→children."""
    noun = _word(noun, "noun")
    if noun in IRREGULAR_PLURAL:
        return IRREGULAR_PLURAL[noun]
    if _CONSONANT_Y.search(noun):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "sh", "ch", "x", "z")):
        return noun + "es"
    return noun + "s"


def with_article(phrase: str) -> str:
    """a/an by the first sound's letter: an apple, a big apple, an egg."""
    phrase = _word(phrase, "phrase")
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase
