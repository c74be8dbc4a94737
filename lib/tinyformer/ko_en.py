"""A project-made Korean → English corpus, generated from a small documented grammar.

Every pair is built from one meaning rendered twice, so the corpus is exact and offline, yet a
model must learn real structure, not word-for-word substitution:

- Order: Korean is SOV with the verb last, English SVO.
  [time] subject [place] [object] [안] verb  →  subject verb [object] [place] [time]
  어제 고양이는 공원에서 생선을 먹었어요 → the cat ate fish in the park yesterday
- Particles depend on the last Hangul syllable: batchim (final consonant) when
  (code − 0xAC00) % 28 ≠ 0. Topic 은/는, subject 이/가, object 을/를, "and" 과/와.
- Tense: polite present 먹어요, past 먹었어요, future 먹을 거예요 (ㄹ vs 을 by batchim); built by
  rule from the stem (아/어 harmony and vowel contraction: 가요, 봐요, 마셔요, 커요, 해요); ㄷ, ㅂ
  and 르 irregulars (걸어요, 귀여워요, 빨라요) store their forms.
- Negative 안 + verb (안 먹어요); for verbal-noun 하다 verbs 안 goes before 해요 (공부 안 해요).
- Questions: the same form plus "?"; English uses do-support (does the dog not sleep?).
- English: "the", a/an, 3rd-person -s with spelling (goes, washes, studies), irregular pasts
  (ate, went, saw), irregular plurals (children, men, women, mice), "will" for the future.
- Adjectives as predicates (고양이는 커요 → the cat is big; 컸어요 → was big) and before nouns in
  the modifier form (큰 고양이 → the big cat, 작은 개, 귀여운 토끼).
- Time words agree with tense: 어제 yesterday → past, 내일 tomorrow → future, 매일 every day →
  present, 오늘 today → any. Places: 공원에서 → in the park, 학교에 가요 → goes to school.
- Plural 들 → English plural; native numbers 한/두/세/네/다섯 with counters 마리 (animals),
  명 (people), 권 (books), 개 (things): 고양이 두 마리 → two cats, 책 세 권 → three books.
- Clauses joined with ", 그리고" → "and"; set phrases (안녕하세요, 만나서 반가워요 → hey, good to
  know you).

`known_words()` is every Korean word form the grammar can write and `unknown_words(text)` the words
of a sentence outside it (a translator trained on the corpus has never seen those).
Use `make_ko_en_pairs(n, seed)` for pairs, `ko_en_splits` for train/test with unseen
(subject, predicate) combinations in test, `ko_en_length_split` for three-clause sentences, and
`render(ClauseSpec(...))` to build one clause by hand. data/README.md has the word tables.
The word forms come from `tinyformer.korean` (syllables, particles, conjugation) and
`tinyformer.english` (agreement, past tense, plurals, a/an); this module holds the lexicon and syntax.

Left out on purpose: honorific subjects (선생님, 할머니 would need -(으)시-), pronouns, the -고
connective (formal writing would say 자고 instead of 자요, 그리고), and capital letters and final
periods (the English side is lower case; questions end with "?").
"""

from __future__ import annotations

import functools
import random
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from .english import past_tense, pluralize, third_person, with_article
from .korean import PARTICLES, conjugate, has_batchim, modifier_form, with_particle

__all__ = [
    "has_batchim", "with_particle", "conjugate", "modifier_form", "third_person", "past_tense",
    "pluralize", "with_article", "NOUNS", "VERBS", "ADJECTIVES", "SET_PHRASES", "NounPhrase", "ClauseSpec",
    "render", "make_ko_en_pairs",
    "ko_en_splits", "KoEnSplits", "held_out_pairs", "ko_en_length_split", "vocabulary_counts", "GRAMMAR_VERSION",
    "sentence_words", "known_words", "unknown_words",
]


# ----------------------------------------------------------------------------- the lexicon
@dataclass(frozen=True)
class Noun:
    ko: str
    en: str
    kind: str  # animal, person, food, drink, reading, thing, school_subject, song, place
    counter: str = ""  # 마리, 명, 권, 개; "" = not counted in this corpus
    mass: bool = False  # mass nouns take no article: fish, water, math


def _nouns(kind: str, counter: str, rows: str, mass: bool = False) -> list[Noun]:
    pairs = [row.split(":") for row in rows.split()]
    return [Noun(ko, en.replace("_", " "), kind, counter, mass) for ko, en in pairs]


NOUNS: tuple[Noun, ...] = tuple(
    _nouns("animal", "마리", "고양이:cat 개:dog 새:bird 토끼:rabbit 곰:bear 원숭이:monkey 오리:duck 여우:fox 쥐:mouse")
    + _nouns("person", "명", "아이:child 학생:student 친구:friend 남자:man 여자:woman 의사:doctor")
    + _nouns("food", "개", "사과:apple 케이크:cake 바나나:banana 달걀:egg")
    + _nouns("food", "", "빵:bread 밥:rice 생선:fish 고기:meat", mass=True)
    + _nouns("drink", "", "물:water 우유:milk 주스:juice 커피:coffee", mass=True)
    + _nouns("reading", "권", "책:book")
    + _nouns("reading", "", "신문:newspaper 편지:letter")
    + _nouns("thing", "개", "컵:cup 가방:bag 모자:hat")
    + _nouns("thing", "", "꽃:flower")
    + _nouns("school_subject", "", "수학:math 음악:music 역사:history", mass=True)
    + _nouns("song", "", "노래:song")
    + _nouns("place", "", "학교:school 공원:park 집:home 시장:market 도서관:library 식당:restaurant 바다:sea")
)
NOUN = {n.ko: n for n in NOUNS}
ANIMATE = ("animal", "person")

# Where things happen (에서) and where one goes (에): the English preposition phrase for each.
PLACE_AT = {"학교": "at school", "공원": "in the park", "집": "at home", "시장": "at the market",
            "도서관": "in the library", "식당": "in the restaurant", "바다": "in the sea"}
PLACE_TO = {"학교": "to school", "공원": "to the park", "집": "home", "시장": "to the market",
            "도서관": "to the library", "식당": "to the restaurant", "바다": "to the sea"}


@dataclass(frozen=True)
class Verb:
    ko: str  # dictionary form, e.g. 먹다
    en: str  # English base form, e.g. eat; "listen to" keeps its preposition
    subjects: tuple[str, ...]  # noun kinds (or Korean nouns) that may be the subject
    objects: tuple[str, ...] = ()  # noun kinds (or Korean nouns) for the object; () = intransitive
    places: str = ""  # 에서 places (space-separated Korean), or "motion" for 가다/오다 + 에
    forms: tuple[str, str, str] | None = None  # (present, past, future) for irregulars
    split: bool = False  # verbal noun + 하다: negative is 공부 안 해요
    generic_object: bool = False  # English bare plural object: likes dogs
    timeless: bool = False  # a lasting attitude (like): takes no time word

    def korean(self, tense: str) -> str:
        if self.forms:
            return dict(zip(("present", "past", "future"), self.forms))[tense]
        return conjugate(self.ko[:-1])[tense]


FOODS, ANY = ("food",), ANIMATE
VERBS: tuple[Verb, ...] = (
    Verb("먹다", "eat", ANY, ("food",), "집 학교 공원 식당"),
    Verb("마시다", "drink", ANY, ("drink",), "집 식당 공원"),
    Verb("읽다", "read", ("person",), ("reading",), "집 학교 도서관 공원"),
    Verb("보다", "see", ANY, ("animal", "person", "꽃"), "공원 시장"),
    Verb("사다", "buy", ("person",), ("food", "drink", "reading", "thing"), "시장"),
    Verb("만들다", "make", ("person",), ("케이크", "빵", "모자", "가방", "컵"), "집 학교 식당"),
    Verb("씻다", "wash", ("person",), ("사과", "바나나", "달걀", "컵"), "집 식당"),
    Verb("쓰다", "write", ("person",), ("편지", "책"), "집 학교 도서관"),
    Verb("공부하다", "study", ("person",), ("school_subject",), "집 학교 도서관", split=True),
    Verb("좋아하다", "like", ANY, ("animal", "food", "drink", "school_subject", "thing"),
         generic_object=True, timeless=True),
    Verb("듣다", "listen to", ("person",), ("음악", "노래"), "집 학교 식당",
         forms=("들어요", "들었어요", "들을 거예요")),
    Verb("기다리다", "wait for", ANY, ("animal", "person"), "공원 학교 시장 식당"),
    Verb("만나다", "meet", ANY, ("animal", "person"), "공원 학교 도서관 식당"),
    Verb("자다", "sleep", ANY, (), "집 공원"),
    Verb("달리다", "run", ANY, (), "공원 학교"),
    Verb("웃다", "laugh", ("person",), (), "집 학교 공원"),
    Verb("울다", "cry", ("person",), (), "집 학교 공원"),
    Verb("놀다", "play", ANY, (), "집 학교 공원 바다"),
    Verb("걷다", "walk", ANY, (), "공원 시장", forms=("걸어요", "걸었어요", "걸을 거예요")),
    Verb("수영하다", "swim", ANY, (), "바다", split=True),
    Verb("노래하다", "sing", ("person",), (), "집 학교 식당", split=True),
    Verb("일하다", "work", ("person",), (), "학교 시장 식당 도서관", split=True),
    Verb("가다", "go", ANY, (), "motion"),
    Verb("오다", "come", ANY, (), "motion"),
)


@dataclass(frozen=True)
class Adjective:
    ko: str  # dictionary form, e.g. 크다
    en: str
    nouns: tuple[str, ...]  # noun kinds (or Korean nouns) it describes
    forms: tuple[str, str, str, str] | None = None  # (present, past, future, modifier) for irregulars
    state: bool = False  # a passing state (busy, tired): may take a time word

    def korean(self, tense: str) -> str:
        if self.forms:
            return dict(zip(("present", "past", "future", "modifier"), self.forms))[tense]
        stem = self.ko[:-1]
        return modifier_form(stem) if tense == "modifier" else conjugate(stem)[tense]


SIZED = ("animal", "food", "thing", "아이")
ADJECTIVES: tuple[Adjective, ...] = (
    Adjective("크다", "big", SIZED),
    Adjective("작다", "small", SIZED),
    Adjective("예쁘다", "pretty", ("animal", "여자", "아이", "꽃", "모자", "가방", "컵")),
    Adjective("귀엽다", "cute", ("animal", "아이"), forms=("귀여워요", "귀여웠어요", "귀여울 거예요", "귀여운")),
    Adjective("바쁘다", "busy", ("person",), state=True),
    Adjective("행복하다", "happy", ANIMATE, state=True),
    Adjective("피곤하다", "tired", ANIMATE, state=True),
    Adjective("빠르다", "fast", ANIMATE, forms=("빨라요", "빨랐어요", "빠를 거예요", "빠른")),
    Adjective("느리다", "slow", ANIMATE),
    Adjective("착하다", "kind", ("person",)),
    Adjective("무겁다", "heavy", ("곰", "가방", "책"), forms=("무거워요", "무거웠어요", "무거울 거예요", "무거운")),
    Adjective("길다", "long", ("책", "편지", "노래")),
)

SET_PHRASES: tuple[tuple[str, str], ...] = (
    ("안녕하세요, 만나서 반가워요", "hey, good to know you"),
    ("안녕하세요", "hello"),
    ("만나서 반가워요", "good to know you"),
    ("감사합니다", "thank you"),
    ("미안해요", "sorry"),
    ("괜찮아요", "it is okay"),
    ("안녕히 가세요", "goodbye"),
    ("잘 자요", "good night"),
    ("네", "yes"),
    ("아니요", "no"),
)
NUMBERS = (("한", "one"), ("두", "two"), ("세", "three"), ("네", "four"), ("다섯", "five"))
TIME_WORDS = {"어제": ("yesterday", ("past",)), "오늘": ("today", ("present", "past", "future")),
              "내일": ("tomorrow", ("future",)), "매일": ("every day", ("present",))}
TENSES = ("present", "past", "future")
GRAMMAR_VERSION = 1  # bumped whenever the same seed would give different pairs (for cached models)


def vocabulary_counts() -> dict[str, int]:
    """How many nouns, verbs and adjectives the grammar knows."""
    return {"nouns": len(NOUNS), "verbs": len(VERBS), "adjectives": len(ADJECTIVES)}


# ----------------------------------------------------------------------------- rendering a clause
Predicate = Verb | Adjective
PREDICATE = {p.ko: p for p in (*VERBS, *ADJECTIVES)}
ADJECTIVE = {a.ko: a for a in ADJECTIVES}


def _fits(noun: Noun, spec: tuple[str, ...]) -> bool:
    """True if `spec` names the noun's kind or the noun itself."""
    return noun.kind in spec or noun.ko in spec


def _takes_subject(pred: Predicate, noun: Noun) -> bool:
    return noun.kind in ANIMATE and _fits(noun, pred.subjects if isinstance(pred, Verb) else pred.nouns)


def _all_pairs() -> list[tuple[str, str]]:
    """Every (subject noun, predicate) combination the grammar allows, in a fixed order."""
    return [(n.ko, p.ko) for p in PREDICATE.values() for n in NOUNS if _takes_subject(p, n)]


@dataclass(frozen=True)
class NounPhrase:
    """A noun with its decorations, in Korean dictionary forms: NounPhrase("고양이", "plural", "크다")."""

    noun: str  # 고양이
    style: str = "bare"  # bare | plural (들) | counted (고양이 두 마리) | and (고양이와 개)
    adjective: str = ""  # dictionary form before the noun: 크다 → 큰 고양이
    number: int = 1  # 1..5 when counted
    other: str = ""  # the second noun when style="and"

    @property
    def plural(self) -> bool:
        return self.style in ("plural", "and") or (self.style == "counted" and self.number > 1)

    def nouns(self) -> list[str]:
        return [self.noun, self.other] if self.style == "and" else [self.noun]


@dataclass(frozen=True)
class ClauseSpec:
    """One clause's meaning; `render` turns it into Korean and English."""

    subject: NounPhrase
    predicate: str  # 먹다, 크다 ...
    object: NounPhrase | None = None
    tense: str = "present"  # present | past | future
    negative: bool = False
    question: bool = False
    place: str = ""  # Korean place noun: 공원 → 공원에서 (or 공원에 for 가다/오다)
    time: str = ""  # 어제 | 오늘 | 내일 | 매일
    topic: bool = True  # 은/는 (topic) or 이/가 (subject)


def _korean_np(np: NounPhrase) -> str:
    adj = ADJECTIVE[np.adjective].korean("modifier") + " " if np.adjective else ""
    if np.style == "and":
        return f"{with_particle(np.noun, 'and')} {np.other}"
    if np.style == "plural":
        return f"{adj}{np.noun}들"
    if np.style == "counted":
        return f"{adj}{np.noun} {NUMBERS[np.number - 1][0]} {NOUN[np.noun].counter}"
    return adj + np.noun


def _english_np(np: NounPhrase, role: str = "subject", generic: bool = False) -> str:
    """the big cat / the cats / two cats / the cat and the dog; objects: fish, an apple, dogs."""
    noun = NOUN[np.noun]
    words = ([ADJECTIVE[np.adjective].en] if np.adjective else []) + [noun.en]
    if np.style == "and":
        return f"the {noun.en} and the {NOUN[np.other].en}"
    if np.plural or (generic and not noun.mass):
        words[-1] = pluralize(noun.en)
    if np.style == "counted":
        return " ".join([NUMBERS[np.number - 1][1], *words])
    if role == "subject" or np.style == "plural":
        return " ".join(["the", *words])
    phrase = " ".join(words)
    return phrase if noun.mass or generic else with_article(phrase)


def _ko_predicate(pred: Predicate, tense: str, negative: bool) -> str:
    """Conjugated Korean predicate with 안 where Korean puts it: 안 먹어요, 공부 안 해요."""
    form = pred.korean(tense)
    if not negative:
        return form
    if isinstance(pred, Verb) and pred.split:
        noun = pred.ko[:-2]  # 공부하다 → 공부
        return f"{noun} 안 {form[len(noun):]}"
    return "안 " + form


def _english_verb(verb: Verb, subject: str, plural: bool, tense: str, negative: bool, question: bool) -> str:
    """Subject + verb with agreement and do-support: the cat eats / do the cats not eat."""
    base, _, prep = verb.en.partition(" ")
    aux = {"present": "do" if plural else "does", "past": "did", "future": "will"}[tense]
    if question:
        words = [aux, subject, "not" if negative else "", base]
    elif negative:
        words = [subject, aux, "not", base]
    elif tense == "future":
        words = [subject, "will", base]
    else:
        inflected = past_tense(base) if tense == "past" else base if plural else third_person(base)
        words = [subject, inflected]
    return " ".join(w for w in [*words, prep] if w)


def _english_be(adj: Adjective, subject: str, plural: bool, tense: str, negative: bool, question: bool) -> str:
    """Subject + be + adjective: the cat is big / were the cats not big / will the cat be big."""
    neg = "not" if negative else ""
    if tense == "future":
        words = ["will", subject, neg, "be"] if question else [subject, "will", neg, "be"]
    else:
        be = {("present", False): "is", ("present", True): "are", ("past", False): "was", ("past", True): "were"}
        words = [be[tense, plural], subject, neg] if question else [subject, be[tense, plural], neg]
    return " ".join(w for w in [*words, adj.en] if w)


def _check_spec(spec: ClauseSpec) -> Predicate:
    if spec.predicate not in PREDICATE:
        raise ValueError(f"predicate={spec.predicate!r} is not in the lexicon; see VERBS and ADJECTIVES")
    if spec.tense not in TENSES:
        raise ValueError(f"tense={spec.tense!r} must be one of {TENSES}")
    if spec.time and spec.time not in TIME_WORDS:
        raise ValueError(f"time={spec.time!r} must be '' or one of {sorted(TIME_WORDS)}")
    if spec.time and spec.tense not in TIME_WORDS[spec.time][1]:
        raise ValueError(f"time={spec.time!r} needs tense in {TIME_WORDS[spec.time][1]}, got {spec.tense!r}")
    for np in filter(None, (spec.subject, spec.object)):
        if any(n not in NOUN for n in np.nouns()) or (np.adjective and np.adjective not in ADJECTIVE):
            raise ValueError(f"{np} uses a word that is not in the lexicon")
        if np.style not in ("bare", "plural", "counted", "and"):
            raise ValueError(f"style={np.style!r} must be bare, plural, counted or and")
        if np.style == "counted" and not (NOUN[np.noun].counter and 1 <= np.number <= 5):
            raise ValueError(f"{np}: only nouns with a counter can be counted, with number 1..5")
    pred = PREDICATE[spec.predicate]
    if spec.place and (spec.place not in PLACE_AT or not isinstance(pred, Verb)):
        raise ValueError(f"place={spec.place!r} needs a verb and one of {sorted(PLACE_AT)}")
    if spec.object is not None and not (isinstance(pred, Verb) and pred.objects):
        raise ValueError(f"object={spec.object} given, but {spec.predicate} takes no object")
    return pred


def render(spec: ClauseSpec) -> tuple[str, str]:
    """(Korean, English) for one clause: verb last in Korean, after the subject in English.

    Raises TypeError if `spec` is not a ClauseSpec, ValueError naming a field that does not fit.
    """
    if not isinstance(spec, ClauseSpec) or not isinstance(spec.subject, NounPhrase):
        raise TypeError(f"spec must be a ClauseSpec with a NounPhrase subject, got {spec!r:.80}")
    pred = _check_spec(spec)
    subj = _korean_np(spec.subject)
    kind = "topic" if spec.topic else "subject"
    ko = [spec.time, with_particle(subj, kind)]
    subj_en, plural = _english_np(spec.subject), spec.subject.plural
    en_tail: list[str] = []
    if isinstance(pred, Verb):
        motion = pred.places == "motion"
        if spec.place:
            ko.append(spec.place + ("에" if motion else "에서"))
            en_tail.append((PLACE_TO if motion else PLACE_AT)[spec.place])
        if spec.object:
            ko.append(with_particle(_korean_np(spec.object), "object"))
            en_tail.insert(0, _english_np(spec.object, "object", pred.generic_object))
        en_head = _english_verb(pred, subj_en, plural, spec.tense, spec.negative, spec.question)
    else:
        en_head = _english_be(pred, subj_en, plural, spec.tense, spec.negative, spec.question)
    ko.append(_ko_predicate(pred, spec.tense, spec.negative))
    en = [en_head, *en_tail, TIME_WORDS[spec.time][0] if spec.time else ""]
    mark = "?" if spec.question else ""
    return " ".join(w for w in ko if w) + mark, " ".join(w for w in en if w) + mark


# ----------------------------------------------------------------------------- the words it knows
PUNCTUATION = ",.?!"


def sentence_words(text: str) -> list[str]:
    """The words of a sentence: split on whitespace, , . ? ! stripped. '고양이는 커요?' -> ['고양이는', '커요']."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return [w for w in (w.strip(PUNCTUATION) for w in text.split()) if w]


def _noun_forms() -> set[str]:
    """Nouns, plurals (들) and counters, bare and with every particle; places with 에서 and 에."""
    counters = {n.counter for n in NOUNS if n.counter}
    bases = {n.ko for n in NOUNS} | {n.ko + "들" for n in NOUNS} | counters
    forms = bases | {with_particle(b, kind) for b in bases for kind in PARTICLES}
    return forms | {n.ko + suffix for n in NOUNS if n.kind == "place" for suffix in ("에서", "에")}


def _predicate_forms() -> set[str]:
    """Every tense of every predicate, negated or not (공부 안 해요: 공부, 안, 해요), and adjective modifiers."""
    words = {a.korean("modifier") for a in ADJECTIVES}
    for pred in PREDICATE.values():
        for tense in TENSES:
            for negative in (False, True):
                words.update(_ko_predicate(pred, tense, negative).split())
    return words


@functools.cache
def known_words() -> frozenset[str]:
    """Every Korean word form the grammar can write (NFC): a sentence made only of these is in its language."""
    words = _noun_forms() | _predicate_forms() | set(TIME_WORDS) | {ko for ko, _ in NUMBERS} | {"그리고"}
    return frozenset(words | {w for ko, _ in SET_PHRASES for w in sentence_words(ko)})


def unknown_words(text: str) -> list[str]:
    """The words of `text` (NFC-normalized) the grammar cannot write, each once, in order of appearance.

    unknown_words("강아지가 잤어요") -> ['강아지가']; an English sentence gives all its words.
    Raises TypeError if `text` is not a str.
    """
    words = sentence_words(unicodedata.normalize("NFC", text) if isinstance(text, str) else text)
    known = known_words()
    return list(dict.fromkeys(w for w in words if w not in known))


# ----------------------------------------------------------------------------- random clauses
@dataclass
class Clause:
    ko: str
    en: str
    pairs: frozenset[tuple[str, str]]  # (subject noun, predicate) combinations used


OPPOSITES = {"크다": "작다", "작다": "크다", "빠르다": "느리다", "느리다": "빠르다"}


def _adjective_for(rng: random.Random, noun: Noun, avoid: str = "") -> str:
    """An adjective that fits the noun, never the predicate or its opposite (no "the fast cat is slow")."""
    options = [a.ko for a in ADJECTIVES if _fits(noun, a.nouns) and a.ko not in (avoid, OPPOSITES.get(avoid))]
    return rng.choice(options) if options else ""


def _random_subject(rng: random.Random, pred: Predicate, first: Noun, ok, simple: bool) -> NounPhrase:
    """bare / adjective / plural / counted / coordinated subject around `first`."""
    others = [n.ko for n in NOUNS if n is not first and _takes_subject(pred, n) and ok(n)]
    styles = ["bare"] * 5 + ["adjective"] * 2 + ["plural", "counted"] + ([] if simple or not others else ["and"])
    style = rng.choice(styles)
    if style == "and":
        return NounPhrase(first.ko, "and", other=rng.choice(others))
    adj = ""
    if style == "adjective" or (style in ("plural", "counted") and rng.random() < 0.3):
        adj = _adjective_for(rng, first, avoid=pred.ko)  # the big cats, two big cats
    number = rng.randint(1, 5) if style == "counted" else 1
    return NounPhrase(first.ko, "bare" if style == "adjective" else style, adj, number)


def _random_object(rng: random.Random, verb: Verb, exclude: list[str]) -> NounPhrase:
    """fish, an apple, a small cup, three books; likes dogs (generic objects are never counted)."""
    noun = rng.choice([n for n in NOUNS if _fits(n, verb.objects) and n.ko not in exclude])
    if noun.mass:
        return NounPhrase(noun.ko)
    style = rng.choice(["bare", "bare", "adjective"] + (["counted"] if noun.counter and not verb.generic_object else []))
    adj = _adjective_for(rng, noun) if style == "adjective" else ""
    return NounPhrase(noun.ko, "counted" if style == "counted" else "bare", adj, rng.randint(1, 5))


def _tense_and_time(rng: random.Random, pred: Predicate) -> tuple[str, str]:
    """(tense, time word); time words only where they agree with the tense, never on lasting traits."""
    lasting = not pred.state if isinstance(pred, Adjective) else pred.timeless
    if lasting or rng.random() < 0.55:
        return rng.choice(TENSES), ""
    time = rng.choice(sorted(TIME_WORDS))
    return rng.choice(TIME_WORDS[time][1]), time


def _random_place(rng: random.Random, pred: Predicate, simple: bool) -> str:
    """Always a goal for 가다/오다; sometimes a 에서 place for other verbs."""
    if not isinstance(pred, Verb) or not pred.places:
        return ""
    if pred.places == "motion":
        return rng.choice(sorted(PLACE_TO))
    return "" if simple or rng.random() < 0.6 else rng.choice(pred.places.split())


def _random_spec(rng: random.Random, pair: tuple[str, str] | None, forbid, simple: bool, questions: bool) -> ClauseSpec:
    """A random clause; `pair` forces its (subject, predicate); no subject forms a pair in `forbid`."""
    preds = [*VERBS, *VERBS, *ADJECTIVES]  # verbs twice as often
    while pair is None:
        pred = rng.choice(preds)
        candidates = [n.ko for n in NOUNS if _takes_subject(pred, n) and (n.ko, pred.ko) not in forbid]
        pair = (rng.choice(candidates), pred.ko) if candidates else None
    first, pred = NOUN[pair[0]], PREDICATE[pair[1]]
    subject = _random_subject(rng, pred, first, lambda n: (n.ko, pred.ko) not in forbid, simple)
    obj = _random_object(rng, pred, subject.nouns()) if isinstance(pred, Verb) and pred.objects else None
    tense, time = _tense_and_time(rng, pred)
    negative, question = rng.random() < 0.25, questions and rng.random() < 0.25
    topic = subject.style != "counted" and rng.random() < 0.65  # 두 마리가, not 두 마리는
    return ClauseSpec(subject, pred.ko, obj, tense, negative, question, _random_place(rng, pred, simple), time, topic)


def _sentence(rng: random.Random, n_clauses: int, pair=None, forbid=frozenset()) -> Clause:
    """n clauses joined with ", 그리고" / "and"; `pair` goes into one clause chosen at random."""
    where = rng.randrange(n_clauses) if pair else -1
    simple = n_clauses > 1
    specs = [_random_spec(rng, pair if i == where else None, forbid, simple, not simple) for i in range(n_clauses)]
    parts = [render(s) for s in specs]
    pairs = frozenset((n, s.predicate) for s in specs for n in s.subject.nouns())
    return Clause(", 그리고 ".join(k for k, _ in parts), " and ".join(e for _, e in parts), pairs)

# ----------------------------------------------------------------------------- corpora and splits
def _check_count(name: str, value: int, minimum: int = 0) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an int >= {minimum}")


def _n_clauses(rng: random.Random, max_clauses: int) -> int:
    return 1 if max_clauses == 1 or rng.random() < 0.8 else rng.randint(2, max_clauses)


def make_ko_en_pairs(n: int, seed: int = 0, *, max_clauses: int = 2, set_phrases: float = 0.04,
                     forbid: frozenset[tuple[str, str]] = frozenset()) -> list[tuple[str, str]]:
    """n (Korean, English) pairs from the grammar; the same seed gives the same pairs.

    80% single clauses, the rest 2..max_clauses clauses; a `set_phrases` fraction are greetings and
    set phrases. No clause uses a (subject noun, predicate) pair from `forbid`.
    """
    _check_count("n", n)
    _check_count("max_clauses", max_clauses, 1)
    if not 0.0 <= set_phrases <= 1.0:
        raise ValueError(f"set_phrases={set_phrases!r} must be a fraction in [0, 1]")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < set_phrases:
            out.append(rng.choice(SET_PHRASES))
            continue
        c = _sentence(rng, _n_clauses(rng, max_clauses), forbid=forbid)
        out.append((c.ko, c.en))
    return out


def held_out_pairs(seed: int = 0, fraction: float = 0.1) -> frozenset[tuple[str, str]]:
    """A `fraction` of (subject noun, predicate) pairs kept out of training.

    Chosen so every noun keeps at least 3 predicates and every predicate keeps at least 2
    subjects in training: each word is known, only the combination is new.
    """
    if not 0.0 < fraction < 0.5:
        raise ValueError(f"fraction={fraction!r} must be in (0, 0.5)")
    pairs = _all_pairs()
    rng = random.Random(f"held-out-{seed}")
    held = set(rng.sample(pairs, round(fraction * len(pairs))))
    for noun, pred in sorted(held):  # give a pair back if it would leave a word nearly unseen
        keep_n = sum(1 for p in pairs if p[0] == noun and p not in held)
        keep_p = sum(1 for p in pairs if p[1] == pred and p not in held)
        if keep_n < 3 or keep_p < 2:
            held.discard((noun, pred))
    return frozenset(held)


class KoEnSplits(NamedTuple):
    train: list[tuple[str, str]]
    test: list[tuple[str, str]]


def ko_en_splits(n_train: int, n_test: int, seed: int = 0, held_out: float = 0.1) -> KoEnSplits:
    """Train and test pairs; every test sentence uses a (subject, predicate) pair never in training.

    Test sentences are distinct, and none of their Korean sides appears in training.
    """
    _check_count("n_train", n_train)
    _check_count("n_test", n_test)
    held = held_out_pairs(seed, held_out)
    train = make_ko_en_pairs(n_train, seed, forbid=held)
    seen, test = {ko for ko, _ in train}, []
    rng, ordered = random.Random(f"test-{seed}"), sorted(held)
    attempts = 0
    while len(test) < n_test:
        attempts += 1  # duplicates are rare; the bound only stops a hopeless request
        if attempts > 100 * n_test + 1000:
            raise ValueError(f"n_test={n_test} distinct unseen sentences could not be made; ask for fewer")
        c = _sentence(rng, _n_clauses(rng, 2), pair=rng.choice(ordered))
        if c.ko not in seen:
            seen.add(c.ko)
            test.append((c.ko, c.en))
    return KoEnSplits(train, test)


def ko_en_length_split(n: int, seed: int = 0, n_clauses: int = 3, held_out: float = 0.1) -> list[tuple[str, str]]:
    """Sentences with `n_clauses` clauses (training has at most 2), built only from training pairs."""
    _check_count("n", n)
    _check_count("n_clauses", n_clauses, 1)
    rng, forbid = random.Random(f"length-{seed}"), held_out_pairs(seed, held_out)
    return [(c.ko, c.en) for c in (_sentence(rng, n_clauses, forbid=forbid) for _ in range(n))]
