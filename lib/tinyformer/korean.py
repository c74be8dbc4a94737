"""Korean morphology for the corpus: Hangul syllable arithmetic, particles, and polite verb forms.

A precomposed syllable is U+AC00 + (lead x 21 + vowel) x 28 + tail: `split_syllable` and
`join_syllable` convert; a tail (batchim, final consonant) decides the particle (책은 / 고양이는)
and the future form (먹을 / 갈). Verb forms are built by rule from the stem with 아/어 vowel
harmony and contraction (가요, 봐요, 마셔요, 커요, 해요); irregular stems store theirs in ko_en.
Words may come decomposed (NFD, one jamo per code point): they are composed (NFC) first.
"""

from __future__ import annotations

import unicodedata

__all__ = ["split_syllable", "join_syllable", "has_batchim", "with_particle", "conjugate", "modifier_form"]

# ----------------------------------------------------------------------------- Hangul syllables
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
N_VOWELS, N_TAILS = 21, 28
A, AE, EO, E, YEO, YE, O, WA, WAE, OE, U, WO, WI, EU, UI, I = 0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 16, 18, 19, 20
TAIL_N, TAIL_L, TAIL_SS = 4, 8, 20  # ㄴ, ㄹ, ㅆ as final consonants
BRIGHT = (A, 2, O)  # ㅏ ㅑ ㅗ take 아; every other vowel takes 어


def split_syllable(syllable: str) -> tuple[int, int, int]:
    """(lead, vowel, tail) indices of one precomposed Hangul syllable."""
    if len(syllable) != 1 or not HANGUL_FIRST <= ord(syllable) <= HANGUL_LAST:
        raise ValueError(f"{syllable!r} is not a Hangul syllable (U+AC00..U+D7A3)")
    code = ord(syllable) - HANGUL_FIRST
    return code // (N_VOWELS * N_TAILS), (code // N_TAILS) % N_VOWELS, code % N_TAILS


def join_syllable(lead: int, vowel: int, tail: int = 0) -> str:
    """The syllable with these (lead, vowel, tail) indices: the inverse of `split_syllable`."""
    return chr(HANGUL_FIRST + (lead * N_VOWELS + vowel) * N_TAILS + tail)


def _set_tail(syllable: str, tail: int) -> str:
    lead, vowel, _ = split_syllable(syllable)
    return join_syllable(lead, vowel, tail)


def _hangul(word: str, name: str = "word") -> str:
    """`word` in NFC, checked to end in a Hangul syllable; TypeError/ValueError naming `name` otherwise."""
    if not isinstance(word, str):
        raise TypeError(f"{name} must be a str, got {type(word).__name__}")
    word = unicodedata.normalize("NFC", word)
    if not word or not HANGUL_FIRST <= ord(word[-1]) <= HANGUL_LAST:
        raise ValueError(f"{name}={word!r} must be a non-empty Korean word ending in a Hangul syllable")
    return word


def has_batchim(word: str) -> bool:
    """True if the last syllable ends in a consonant: (code - 0xAC00) % 28 != 0."""
    return split_syllable(_hangul(word)[-1])[2] != 0


PARTICLES = {"topic": ("은", "는"), "subject": ("이", "가"), "object": ("을", "를"), "and": ("과", "와")}


def with_particle(word: str, kind: str) -> str:
    """Attach a particle: 책은 / 고양이는, 학생이 / 개가, 물을 / 사과를, 책과 / 사과와."""
    if kind not in PARTICLES:
        raise ValueError(f"kind={kind!r} must be one of {sorted(PARTICLES)}")
    word = _hangul(word)
    after_consonant, after_vowel = PARTICLES[kind]
    return word + (after_consonant if has_batchim(word) else after_vowel)


# ----------------------------------------------------------------------------- Korean predicates
def _infinitive(stem: str) -> str:
    """The 아/어 form: 먹→먹어, 가→가, 보→봐, 마시→마셔, 크→커, 바쁘→바빠, 하→해."""
    if stem.endswith("하"):
        return stem[:-1] + "해"
    lead, vowel, tail = split_syllable(stem[-1])
    if tail:
        return stem + ("아" if vowel in BRIGHT else "어")
    if vowel in (A, AE, EO, E, YEO):  # 가+아 → 가, 서+어 → 서, 보내+어 → 보내
        return stem
    if vowel == EU:  # ㅡ drops; the previous syllable's vowel decides: 바쁘→바빠, 예쁘→예뻐, 쓰→써
        bright = len(stem) > 1 and split_syllable(stem[-2])[1] in BRIGHT
        return stem[:-1] + join_syllable(lead, A if bright else EO)
    contracted = {O: WA, U: WO, I: YEO, OE: WAE}  # 보→봐, 배우→배워, 마시→마셔, 되→돼
    if vowel in contracted:
        return stem[:-1] + join_syllable(lead, contracted[vowel])
    return stem + ("아" if vowel in BRIGHT else "어")  # 쉬→쉬어


def _future(stem: str) -> str:
    """-(으)ㄹ 거예요: 가→갈, 만들→만들 (ㄹ stays), 먹→먹을."""
    tail = split_syllable(stem[-1])[2]
    if tail == 0:
        return stem[:-1] + _set_tail(stem[-1], TAIL_L) + " 거예요"
    return stem + (" 거예요" if tail == TAIL_L else "을 거예요")


def conjugate(stem: str) -> dict[str, str]:
    """Polite present, past and future of a regular stem: 먹 → 먹어요, 먹었어요, 먹을 거예요."""
    stem = _hangul(stem, "stem")
    inf = _infinitive(stem)
    past = inf[:-1] + _set_tail(inf[-1], TAIL_SS) + "어요"
    return {"present": inf + "요", "past": past, "future": _future(stem)}


def modifier_form(stem: str) -> str:
    """Adjective before a noun: 크→큰, 작→작은, 길→긴 (ㄹ drops), 행복하→행복한."""
    stem = _hangul(stem, "stem")
    tail = split_syllable(stem[-1])[2]
    if tail == 0 or tail == TAIL_L:
        return stem[:-1] + _set_tail(stem[-1], TAIL_N)
    return stem + "은"
