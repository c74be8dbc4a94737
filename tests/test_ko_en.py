"""Tests for the generated Korean→English corpus: Hangul rules, conjugation, English agreement, splits."""

from __future__ import annotations

import re
import unicodedata

import pytest

from tinyformer import english, ko_en, korean
from tinyformer.ko_en import (
    ADJECTIVES, NOUNS, SET_PHRASES, VERBS, ClauseSpec, NounPhrase, conjugate, has_batchim, held_out_pairs,
    ko_en_length_split, ko_en_splits, make_ko_en_pairs, modifier_form, past_tense, pluralize, render,
    third_person, vocabulary_counts, with_article, with_particle,
)

CORPUS = make_ko_en_pairs(3000, seed=0)
SINGLE = [(k, e) for k, e in CORPUS if "그리고" not in k and (k, e) not in SET_PHRASES]


# ----------------------------------------------------------------------------- Hangul and particles
@pytest.mark.parametrize("word, expected", [("고양이", False), ("개", False), ("책", True), ("물", True),
                                            ("학생", True), ("사과", False), ("마리", False), ("명", True)])
def test_has_batchim(word, expected):
    """책 = U+CC45: (0xCC45 - 0xAC00) % 28 = 17 (ㅂ) ≠ 0; 개 = U+AC1C: 0x1C % 28 = 0."""
    assert has_batchim(word) is expected


@pytest.mark.parametrize("word, kind, expected", [
    ("고양이", "topic", "고양이는"), ("책", "topic", "책은"), ("개", "object", "개를"), ("물", "object", "물을"),
    ("학생", "subject", "학생이"), ("개", "subject", "개가"), ("사과", "and", "사과와"), ("책", "and", "책과"),
    ("고양이 두 마리", "subject", "고양이 두 마리가"), ("학생 세 명", "subject", "학생 세 명이"),
    ("책 세 권", "object", "책 세 권을"), ("사과 다섯 개", "object", "사과 다섯 개를"),
])
def test_particles_follow_the_final_consonant(word, kind, expected):
    assert with_particle(word, kind) == expected


def test_batchim_rule_matches_unicode_decomposition():
    """Reference: NFD splits a syllable into 2 jamo (no final consonant) or 3 (with one), for all 11,172."""
    for code in range(0xAC00, 0xD7A4):
        syllable = chr(code)
        jamo = unicodedata.normalize("NFD", syllable)
        assert has_batchim(syllable) == (len(jamo) == 3)
        lead, vowel, tail = korean.split_syllable(syllable)
        assert korean.join_syllable(lead, vowel, tail) == syllable
        assert ord(jamo[1]) - 0x1161 == vowel and (tail == 0 or ord(jamo[2]) - 0x11A7 == tail)


def test_particle_bad_input():
    with pytest.raises(ValueError, match="kind"):
        with_particle("책", "genitive")
    with pytest.raises(ValueError, match="Hangul"):
        has_batchim("cat")
    with pytest.raises(ValueError, match="word"):
        has_batchim("")


def test_particles_in_the_corpus():
    """Every noun (or counter, or 들-plural) followed by a particle in the corpus takes the right one."""
    particle_kind = {"은": "topic", "는": "topic", "이": "subject", "가": "subject", "을": "object",
                     "를": "object", "과": "and", "와": "and"}
    stems = {n.ko for n in NOUNS} | {"마리", "명", "권", "개"} | {n.ko + "들" for n in NOUNS}
    checked = 0
    for ko, _ in CORPUS:
        for word in re.findall(r"[가-힣]+", ko):
            if word[:-1] in stems and word[-1] in particle_kind:
                assert with_particle(word[:-1], particle_kind[word[-1]]) == word, (word, ko)
                checked += 1
    assert checked > 3000


# ----------------------------------------------------------------------------- Korean conjugation
@pytest.mark.parametrize("stem, present, past, future", [
    ("먹", "먹어요", "먹었어요", "먹을 거예요"),  # batchim, dark vowel: 어
    ("작", "작아요", "작았어요", "작을 거예요"),  # batchim, bright vowel: 아
    ("가", "가요", "갔어요", "갈 거예요"),  # ㅏ + 아 merge
    ("자", "자요", "잤어요", "잘 거예요"),
    ("보", "봐요", "봤어요", "볼 거예요"),  # ㅗ + 아 → ㅘ
    ("오", "와요", "왔어요", "올 거예요"),
    ("마시", "마셔요", "마셨어요", "마실 거예요"),  # ㅣ + 어 → ㅕ
    ("기다리", "기다려요", "기다렸어요", "기다릴 거예요"),
    ("배우", "배워요", "배웠어요", "배울 거예요"),  # ㅜ + 어 → ㅝ
    ("되", "돼요", "됐어요", "될 거예요"),  # ㅚ + 어 → ㅙ
    ("쉬", "쉬어요", "쉬었어요", "쉴 거예요"),  # ㅟ does not contract
    ("보내", "보내요", "보냈어요", "보낼 거예요"),
    ("크", "커요", "컸어요", "클 거예요"),  # ㅡ drops
    ("쓰", "써요", "썼어요", "쓸 거예요"),
    ("바쁘", "바빠요", "바빴어요", "바쁠 거예요"),  # ㅡ drops, the syllable before is bright
    ("예쁘", "예뻐요", "예뻤어요", "예쁠 거예요"),  # ... or dark
    ("공부하", "공부해요", "공부했어요", "공부할 거예요"),  # 하 → 해
    ("만들", "만들어요", "만들었어요", "만들 거예요"),  # ㄹ stem: no extra 을 in the future
    ("놀", "놀아요", "놀았어요", "놀 거예요"),
])
def test_conjugate_regular_stems(stem, present, past, future):
    assert conjugate(stem) == {"present": present, "past": past, "future": future}


@pytest.mark.parametrize("stem, expected", [("크", "큰"), ("작", "작은"), ("길", "긴"), ("예쁘", "예쁜"),
                                            ("행복하", "행복한"), ("느리", "느린")])
def test_modifier_form(stem, expected):
    assert modifier_form(stem) == expected


@pytest.mark.parametrize("word, forms", [
    ("듣다", ("들어요", "들었어요", "들을 거예요")),  # ㄷ irregular
    ("걷다", ("걸어요", "걸었어요", "걸을 거예요")),
    ("귀엽다", ("귀여워요", "귀여웠어요", "귀여울 거예요")),  # ㅂ irregular
    ("빠르다", ("빨라요", "빨랐어요", "빠를 거예요")),  # 르 irregular
])
def test_irregulars_are_stored_and_differ_from_the_rule(word, forms):
    pred = ko_en.PREDICATE[word]
    assert tuple(pred.korean(t) for t in ("present", "past", "future")) == forms
    assert conjugate(word[:-1])["present"] != forms[0]  # the regular rule would be wrong here


@pytest.mark.parametrize("word, tense, expected", [
    ("먹다", "present", "안 먹어요"), ("가다", "past", "안 갔어요"), ("먹다", "future", "안 먹을 거예요"),
    ("공부하다", "present", "공부 안 해요"), ("수영하다", "past", "수영 안 했어요"),
    ("일하다", "future", "일 안 할 거예요"), ("좋아하다", "present", "안 좋아해요"),  # 좋아 is not a noun
    ("행복하다", "present", "안 행복해요"), ("크다", "past", "안 컸어요"),
])
def test_negation_places_an(word, tense, expected):
    assert ko_en._ko_predicate(ko_en.PREDICATE[word], tense, negative=True) == expected


def test_every_predicate_conjugates_to_polite_forms():
    """Present ends in 요, past has ㅆ + 어요, future is -(으)ㄹ 거예요, for every word in the lexicon."""
    for pred in (*VERBS, *ADJECTIVES):
        present, past, future = (pred.korean(t) for t in ("present", "past", "future"))
        assert present.endswith("요") and past.endswith("어요"), pred.ko
        assert korean.split_syllable(past[-3])[2] == korean.TAIL_SS, pred.ko
        verb_part = future.removesuffix(" 거예요")
        assert verb_part != future and korean.split_syllable(verb_part[-1])[2] == korean.TAIL_L, pred.ko


# ----------------------------------------------------------------------------- English morphology
@pytest.mark.parametrize("base, s_form", [("eat", "eats"), ("go", "goes"), ("wash", "washes"), ("watch", "watches"),
                                          ("study", "studies"), ("cry", "cries"), ("play", "plays"), ("fix", "fixes")])
def test_third_person(base, s_form):
    assert third_person(base) == s_form


@pytest.mark.parametrize("base, past", [("eat", "ate"), ("go", "went"), ("see", "saw"), ("drink", "drank"),
                                        ("run", "ran"), ("like", "liked"), ("cry", "cried"), ("play", "played"),
                                        ("stop", "stopped"), ("walk", "walked"), ("wait", "waited"), ("open", "opened")])
def test_past_tense(base, past):
    assert past_tense(base) == past


@pytest.mark.parametrize("noun, plural", [("cat", "cats"), ("fox", "foxes"), ("baby", "babies"), ("monkey", "monkeys"),
                                          ("child", "children"), ("man", "men"), ("woman", "women"), ("mouse", "mice")])
def test_pluralize(noun, plural):
    assert pluralize(noun) == plural


def test_article():
    assert [with_article(w) for w in ("apple", "big apple", "egg", "cup")] == ["an apple", "a big apple", "an egg", "a cup"]


# ----------------------------------------------------------------------------- whole clauses by hand
@pytest.mark.parametrize("spec, ko, en", [
    (ClauseSpec(NounPhrase("고양이"), "먹다", NounPhrase("생선")), "고양이는 생선을 먹어요", "the cat eats fish"),
    (ClauseSpec(NounPhrase("고양이", "plural"), "먹다", NounPhrase("생선"), tense="past"),
     "고양이들은 생선을 먹었어요", "the cats ate fish"),
    (ClauseSpec(NounPhrase("개"), "자다", negative=True, question=True), "개는 안 자요?", "does the dog not sleep?"),
    (ClauseSpec(NounPhrase("개", "plural"), "자다", tense="past", question=True, topic=False),
     "개들이 잤어요?", "did the dogs sleep?"),
    (ClauseSpec(NounPhrase("고양이"), "먹다", NounPhrase("생선"), negative=True),
     "고양이는 생선을 안 먹어요", "the cat does not eat fish"),
    (ClauseSpec(NounPhrase("고양이"), "크다"), "고양이는 커요", "the cat is big"),
    (ClauseSpec(NounPhrase("고양이"), "크다", tense="past"), "고양이는 컸어요", "the cat was big"),
    (ClauseSpec(NounPhrase("고양이", "plural"), "크다", tense="past", negative=True, question=True),
     "고양이들은 안 컸어요?", "were the cats not big?"),
    (ClauseSpec(NounPhrase("개"), "작다", tense="future", question=True), "개는 작을 거예요?", "will the dog be small?"),
    (ClauseSpec(NounPhrase("고양이", adjective="크다"), "자다"), "큰 고양이는 자요", "the big cat sleeps"),
    (ClauseSpec(NounPhrase("고양이", "counted", number=2), "자다", topic=False), "고양이 두 마리가 자요", "two cats sleep"),
    (ClauseSpec(NounPhrase("학생", "counted", number=1), "오다", place="학교", topic=False),
     "학생 한 명이 학교에 와요", "one student comes to school"),
    (ClauseSpec(NounPhrase("아이"), "읽다", NounPhrase("책", "counted", number=3)), "아이는 책 세 권을 읽어요",
     "the child reads three books"),
    (ClauseSpec(NounPhrase("아이"), "먹다", NounPhrase("사과", adjective="작다"), time="어제", tense="past"),
     "어제 아이는 작은 사과를 먹었어요", "the child ate a small apple yesterday"),
    (ClauseSpec(NounPhrase("아이"), "먹다", NounPhrase("사과")), "아이는 사과를 먹어요", "the child eats an apple"),
    (ClauseSpec(NounPhrase("학생"), "가다", place="학교"), "학생은 학교에 가요", "the student goes to school"),
    (ClauseSpec(NounPhrase("개"), "가다", place="집", tense="future", time="내일"),
     "내일 개는 집에 갈 거예요", "the dog will go home tomorrow"),
    (ClauseSpec(NounPhrase("아이", "plural"), "놀다", place="공원"), "아이들은 공원에서 놀아요", "the children play in the park"),
    (ClauseSpec(NounPhrase("학생"), "공부하다", NounPhrase("수학"), negative=True),
     "학생은 수학을 공부 안 해요", "the student does not study math"),
    (ClauseSpec(NounPhrase("여자"), "공부하다", NounPhrase("역사")), "여자는 역사를 공부해요", "the woman studies history"),
    (ClauseSpec(NounPhrase("남자"), "씻다", NounPhrase("컵")), "남자는 컵을 씻어요", "the man washes a cup"),
    (ClauseSpec(NounPhrase("여자"), "듣다", NounPhrase("음악"), tense="past", question=True),
     "여자는 음악을 들었어요?", "did the woman listen to music?"),
    (ClauseSpec(NounPhrase("개", "plural"), "좋아하다", NounPhrase("고양이")), "개들은 고양이를 좋아해요", "the dogs like cats"),
    (ClauseSpec(NounPhrase("고양이", "and", other="개"), "자다"), "고양이와 개는 자요", "the cat and the dog sleep"),
    (ClauseSpec(NounPhrase("쥐", "plural"), "달리다", tense="past"), "쥐들은 달렸어요", "the mice ran"),
    (ClauseSpec(NounPhrase("개"), "기다리다", NounPhrase("친구"), tense="future", negative=True),
     "개는 친구를 안 기다릴 거예요", "the dog will not wait for a friend"),
    (ClauseSpec(NounPhrase("아이"), "울다", tense="present"), "아이는 울어요", "the child cries"),
])
def test_render_hand_written_clauses(spec, ko, en):
    assert render(spec) == (ko, en)


def test_render_rejects_bad_specs():
    with pytest.raises(ValueError, match="time"):
        render(ClauseSpec(NounPhrase("개"), "자다", tense="future", time="어제"))
    with pytest.raises(ValueError, match="predicate"):
        render(ClauseSpec(NounPhrase("개"), "날다"))
    with pytest.raises(ValueError, match="counter"):
        render(ClauseSpec(NounPhrase("개"), "먹다", NounPhrase("빵", "counted", number=2)))
    with pytest.raises(ValueError, match="tense"):
        render(ClauseSpec(NounPhrase("개"), "자다", tense="perfect"))
    with pytest.raises(ValueError, match="place"):
        render(ClauseSpec(NounPhrase("개"), "크다", place="공원"))
    with pytest.raises(ValueError, match="object"):
        render(ClauseSpec(NounPhrase("개"), "자다", NounPhrase("빵")))


# ----------------------------------------------------------------------------- the generated corpus
def test_greeting_is_in_the_corpus():
    assert ("안녕하세요, 만나서 반가워요", "hey, good to know you") in SET_PHRASES
    assert ("안녕하세요, 만나서 반가워요", "hey, good to know you") in CORPUS


def test_vocabulary_counts():
    counts = vocabulary_counts()
    assert counts["nouns"] >= 40 and counts["verbs"] >= 20 and counts["adjectives"] >= 10
    assert len({n.ko for n in NOUNS}) == len(NOUNS) and len({n.en for n in NOUNS}) == len(NOUNS)


def test_same_seed_same_pairs():
    assert make_ko_en_pairs(200, seed=7) == make_ko_en_pairs(200, seed=7)
    assert make_ko_en_pairs(200, seed=7) != make_ko_en_pairs(200, seed=8)


def test_each_korean_sentence_has_one_translation():
    seen: dict[str, str] = {}
    for ko, en in CORPUS:
        assert seen.setdefault(ko, en) == en


@pytest.mark.parametrize("ko_word, en_word", [("어제", "yesterday"), ("오늘", "today"), ("내일", "tomorrow"),
                                              ("매일", "every day")])
def test_time_words_translate(ko_word, en_word):
    for ko, en in SINGLE:
        assert (ko_word in ko) == (en_word in en), (ko, en)


def _korean_tense(clause: str) -> str:
    """future if it ends in 거예요; past if the syllable before 어요 holds ㅆ (먹었어요, 갔어요); else present."""
    last = clause.rstrip("?").split()[-1]
    if last == "거예요":
        return "future"
    return "past" if len(last) >= 3 and korean.split_syllable(last[-3])[2] == korean.TAIL_SS else "present"


def test_time_words_agree_with_tense():
    """어제 → past on both sides, 내일 → future (-(으)ㄹ 거예요, will), 매일 → present."""
    counts = {"어제": 0, "내일": 0, "매일": 0}
    for ko, en in SINGLE:
        tense, words = _korean_tense(ko), en.rstrip("?").split()
        assert (tense == "future") == ("will" in words), (ko, en)
        for time, want in (("어제", "past"), ("내일", "future"), ("매일", "present")):
            if time in ko:
                assert tense == want, (ko, en)
                counts[time] += 1
    assert min(counts.values()) > 50


def test_counters_and_numbers():
    """고양이 두 마리 → two cats: the right counter for the noun, and a native number."""
    numbers = dict(ko_en.NUMBERS)
    noun = {n.ko: n for n in NOUNS}
    found = 0
    for ko, en in SINGLE:
        for word, num, counter in re.findall(r"([가-힣]+) (한|두|세|네|다섯) (마리|명|권|개)", ko):
            n = noun[word]
            assert counter == n.counter, ko
            english = n.en if num == "한" else pluralize(n.en)
            assert re.search(rf"\b{numbers[num]} (\w+ )?{english}\b", en), (ko, en)  # two (big) cats
            found += 1
    assert found > 100


def test_questions_and_plural_markers_carry_over():
    for ko, en in SINGLE:
        assert ko.endswith("?") == en.endswith("?"), (ko, en)
        if "들은" in ko or "들이" in ko:
            assert re.search(r"\bthe (\w+ )?(\w+s|children|men|women|mice)\b", en), (ko, en)
    assert len(max(SINGLE, key=lambda p: len(p[1].split()))[1].split()) <= 16


# ----------------------------------------------------------------------------- splits
def test_no_test_sentence_is_in_training():
    train, test = ko_en_splits(2000, 300, seed=0)
    assert len(test) == 300 and len({ko for ko, _ in test}) == 300
    assert not {ko for ko, _ in train} & {ko for ko, _ in test}
    assert ko_en_splits(50, 20, seed=3) == ko_en_splits(50, 20, seed=3)


def test_test_sentences_use_a_held_out_pair():
    held = sorted(held_out_pairs(0))
    rng = ko_en.random.Random(0)
    for pair in held:
        for n_clauses in (1, 2):
            assert pair in ko_en._sentence(rng, n_clauses, pair=pair).pairs


def test_training_generator_respects_forbid():
    held = held_out_pairs(0)
    rng = ko_en.random.Random(1)
    for _ in range(500):
        assert not ko_en._sentence(rng, 2, forbid=held).pairs & held


def test_held_out_words_are_still_seen_in_training():
    held = held_out_pairs(0)
    pairs = ko_en._all_pairs()
    assert 0.05 * len(pairs) < len(held) < 0.15 * len(pairs)
    for noun in {n for n, _ in pairs}:
        assert sum(1 for p in pairs if p[0] == noun and p not in held) >= 3
    for pred in {p for _, p in pairs}:
        total = sum(1 for p in pairs if p[1] == pred)
        assert sum(1 for p in pairs if p[1] == pred and p not in held) >= min(2, total)


def test_length_split_has_more_clauses_than_training():
    long = ko_en_length_split(50, seed=0, n_clauses=3)
    assert all(ko.count(", 그리고 ") == 2 for ko, _ in long)
    assert max(ko.count("그리고") for ko, _ in make_ko_en_pairs(2000, seed=0)) == 1
    assert ko_en_length_split(5, seed=1) == ko_en_length_split(5, seed=1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n="):
        make_ko_en_pairs(-1)
    with pytest.raises(ValueError, match="max_clauses"):
        make_ko_en_pairs(3, max_clauses=0)
    with pytest.raises(ValueError, match="fraction"):
        held_out_pairs(0, fraction=0.9)


def test_corpus_is_pinned_to_the_grammar_version():
    """Cached translators depend on the exact pairs: a grammar change must bump GRAMMAR_VERSION."""
    import hashlib

    digests = {1: ("aa093146ffe3bea9e973c51947de146b2bbdc2525204b9416bc5a57f3b37474b",
                   "34db8cba3c0ad40b9d424c36b3bf4a5b44e55ccf5e156103c1645a0efd512e23")}
    pairs = hashlib.sha256(repr(make_ko_en_pairs(500, seed=0)).encode()).hexdigest()
    splits = hashlib.sha256(repr(ko_en_splits(300, 50, seed=0)).encode()).hexdigest()
    assert (pairs, splits) == digests[ko_en.GRAMMAR_VERSION], "the corpus changed: bump GRAMMAR_VERSION, update digests"


def test_english_agreement_in_the_corpus():
    """In one-subject statements a singular noun takes eats/does/is/was, a plural one eat/do/are/were; a/an fit."""
    singular = {n.en for n in NOUNS}
    plural = {pluralize(n.en) for n in NOUNS} - singular  # "fish" is both
    bases = {v.en.split()[0] for v in VERBS} - set(english.IRREGULAR_PAST.values())  # "read" is also a past
    s_forms = {third_person(b) for b in bases}
    checked = 0
    for ko, en in SINGLE:
        assert not re.search(r"\ba [aeiou]|\ban [^aeiou]", en), en
        if en.endswith("?") or " and " in en or "와 " in ko or "과 " in ko:
            continue
        words = en.split()
        for prev, word in zip(words, words[1:]):
            if prev in singular and prev not in plural:
                assert word not in bases | {"do", "are", "were"}, en
                checked += word in s_forms | {"does", "is", "was"}
            if prev in plural:
                assert word not in s_forms | {"does", "is", "was"}, en
                checked += word in bases | {"do", "are", "were"}
    assert checked > 400


# ----------------------------------------------------------------------------- the grammar's words
def test_every_word_the_grammar_writes_is_known():
    """Every word of the training corpus, the held-out and the longer splits, and every clause render() can build."""
    from tinyformer.ko_en import PREDICATE, TENSES, known_words, sentence_words

    splits = ko_en_splits(3000, 300, seed=1)
    corpus = splits.train + splits.test + ko_en_length_split(200, seed=1)
    assert {w for ko, _ in corpus for w in sentence_words(ko)} <= known_words()
    clauses = []
    for subject in (n.ko for n in NOUNS if n.kind in ("animal", "person")):
        for predicate in PREDICATE:
            for tense in TENSES:
                try:
                    clauses.append(render(ClauseSpec(NounPhrase(subject, "plural"), predicate, tense=tense, negative=True,
                                                     question=True)))
                except ValueError:
                    pass  # an object is needed, or the pair does not fit
    assert len(clauses) > 500
    assert {w for ko, _ in clauses for w in sentence_words(ko)} <= known_words()


def test_unknown_words_by_example():
    from tinyformer.ko_en import sentence_words, unknown_words

    assert sentence_words("고양이는 커요?, 그리고 개는 작아요.") == ["고양이는", "커요", "그리고", "개는", "작아요"]
    assert unknown_words("고양이는 커요?") == []
    assert unknown_words("강아지가 짖어요") == ["강아지가", "짖어요"]               # a new noun, a new verb
    assert unknown_words("고양이는 크다") == ["크다"]                                # a dictionary form, not a polite one
    assert unknown_words("the cat, the dog") == ["the", "cat", "dog"]           # each once, in order
    assert unknown_words(unicodedata.normalize("NFD", "고양이가 잤어요")) == []     # NFD is the same text
    assert unknown_words("") == [] and unknown_words(" ?! ") == []
    with pytest.raises(TypeError, match="text must be a str"):
        unknown_words(["고양이"])
