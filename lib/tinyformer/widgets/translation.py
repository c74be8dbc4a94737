"""Notebook 07 widget: build (or type) a Korean sentence, see its translation and cross-attention.

`build_sentence(...)` (pure, tested without a browser) renders a clause with the corpus grammar;
`translation_view(translator, korean)` (pure) translates it; the widget only wires dropdowns to
them and redraws `tinyformer.viz.plot_cross_attention`.
"""

from __future__ import annotations

import html
import io
import warnings
from typing import Any

import matplotlib.pyplot as plt

from ..ko_en import NOUN, PREDICATE, TIME_WORDS, VERBS, ClauseSpec, NounPhrase, render
from ..translate import UnknownWordWarning
from ..viz.translation import plot_cross_attention

__all__ = ["SUBJECTS", "PREDICATES", "OBJECTS", "build_sentence", "translation_view", "translation_explorer",
           "DEFAULT_SENTENCE"]

SUBJECTS = tuple(sorted((n.en, n.ko) for n in NOUN.values() if n.kind in ("animal", "person")))
PREDICATES = tuple(sorted((p.en, p.ko) for p in PREDICATE.values()))
OBJECTS = (("(none)", ""),) + tuple(sorted((n.en, n.ko) for n in NOUN.values() if n.kind not in ("place",)))
DEFAULT_SENTENCE = dict(subject="고양이", predicate="먹다", obj="생선", tense="past", negative=False,
                        question=False, time="어제")


def build_sentence(subject: str, predicate: str, obj: str = "", tense: str = "present", negative: bool = False,
                   question: bool = False, time: str = "") -> tuple[str, str]:
    """(Korean, reference English) for one clause of the corpus grammar; ValueError if it does not fit.

    build_sentence("고양이", "먹다", "생선", "past", time="어제")
    -> ("어제 고양이는 생선을 먹었어요", "the cat ate fish yesterday")
    """
    pred = PREDICATE.get(predicate)
    if pred is None:
        raise ValueError(f"predicate={predicate!r} is not in the lexicon")
    transitive = pred in VERBS and bool(pred.objects)
    if obj and not transitive:
        raise ValueError(f"{pred.en!r} takes no object here; choose (none)")
    if transitive and not obj:
        raise ValueError(f"{pred.en!r} needs an object")
    if obj:
        noun = NOUN[obj]
        if noun.kind not in pred.objects and noun.ko not in pred.objects:
            raise ValueError(f"one cannot {pred.en} {noun.en} in this grammar; try another object")
    if subject not in NOUN or NOUN[subject].kind not in ("animal", "person"):
        raise ValueError(f"subject={subject!r} must be an animal or a person")
    spec = ClauseSpec(NounPhrase(subject), predicate, NounPhrase(obj) if obj else None, tense, negative, question,
                      time=time)
    return render(spec)


def translation_view(translator: Any, korean: str, beam_size: int = 4) -> dict[str, Any]:
    """Greedy and beam translations of `korean`, the greedy output's cross-attention, and the words
    of `korean` the translator never saw in training ("unknown": shown beside the translation
    instead of warned about, since a widget's warnings land in the server log, not on the page)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownWordWarning)
        src_tokens, out_tokens, weights = translator.cross_attention(korean)
        greedy, beam = translator.translate(korean), translator.translate(korean, beam_size=beam_size)
    return {"korean": korean, "greedy": greedy, "beam": beam, "unknown": translator.unknown_words(korean),
            "src_tokens": src_tokens, "out_tokens": out_tokens, "weights": weights}


def translation_explorer(translator: Any):
    """Dropdowns (subject, verb or adjective, object, tense, time, not, ?) or a text box → translation + heatmap."""
    import ipywidgets as W

    d = DEFAULT_SENTENCE
    subject = W.Dropdown(options=SUBJECTS, value=d["subject"], description="subject")
    predicate = W.Dropdown(options=PREDICATES, value=d["predicate"], description="predicate")
    obj = W.Dropdown(options=OBJECTS, value=d["obj"], description="object")
    tense = W.Dropdown(options=["present", "past", "future"], value=d["tense"], description="tense")
    time = W.Dropdown(options=[("(none)", "")] + [(f"{ko} ({en})", ko) for ko, (en, _) in sorted(TIME_WORDS.items())],
                      value=d["time"], description="time")
    negative = W.Checkbox(value=d["negative"], description="negative (안)")
    question = W.Checkbox(value=d["question"], description="question (?)")
    text = W.Text(value="", placeholder="…or type Korean here and press Enter", description="Korean",
                  continuous_update=False, layout=W.Layout(width="420px"))
    info = W.HTML()
    image = W.Image(format="png")            # the heatmap as a PNG: no Output widget, so it works in any frontend
    controls = (subject, predicate, obj, tense, time, negative, question)

    def show(korean: str, reference: str | None) -> None:
        view = translation_view(translator, korean)
        ref = f"<br>reference: <b>{reference}</b>" if reference else ""
        unknown = (f"<br><span style='color:#b00'>not in the training data: {html.escape(', '.join(view['unknown']))}"
                   " (the translation is a guess)</span>") if view["unknown"] else ""
        info.value = (f"Korean: <b>{html.escape(korean)}</b>{ref}<br>greedy: <b>{html.escape(view['greedy'])}</b>"
                      f"<br>beam (4): <b>{html.escape(view['beam'])}</b>{unknown}")
        fig = plot_cross_attention(view["src_tokens"], view["out_tokens"], view["weights"])
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")  # at the figure style's dpi
        plt.close(fig)
        image.value = buffer.getvalue()

    def from_controls(_=None) -> None:
        try:
            ko, en = build_sentence(subject.value, predicate.value, obj.value, tense.value, negative.value,
                                    question.value, time.value)
        except ValueError as e:
            info.value = f"<span style='color:#b00'>{e}</span>"
            return
        show(ko, en)

    def from_text(_=None) -> None:
        if text.value.strip():
            show(text.value.strip(), None)

    for c in controls:
        c.observe(from_controls, names="value")
    text.observe(from_text, names="value")
    box = W.VBox([W.HBox([subject, predicate, obj]), W.HBox([tense, time]), W.HBox([negative, question]), text, info,
                  image])
    box.controls = dict(zip(("subject", "predicate", "object", "tense", "time", "negative", "question"), controls))
    box.controls["text"] = text
    box.info, box.image = info, image
    from_controls()
    return box
