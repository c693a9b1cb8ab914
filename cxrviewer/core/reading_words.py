"""How a model's answer is said, in one place, for the findings panel and every report (issue 20,
items 5 and 10): a plain name, the call (abnormal, indeterminate, normal; or withheld, not run, with
the reason), the figure as a percentage, and the threshold in force with whose it is (the card's or
the site's). One number format: every probability and threshold a percentage.

Pure (no Qt): the panel renders a `Summary` as HTML, the PDF report as text runs; both take the
words from `Summary.call_text` and `Summary.figures`, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cxrviewer.core.cards import ModelCard
from cxrviewer.core.suitability import ADULT_YEARS, AgeFit

ABNORMAL, INDETERMINATE, NORMAL, WITHHELD, NOT_RUN = "abnormal", "indeterminate", "normal", "withheld", "not run"
CALLS = (ABNORMAL, INDETERMINATE, NORMAL, WITHHELD, NOT_RUN)
# Each call's colour where it is printed or shown (always beside the word, never instead of it).
CALL_COLOURS = {ABNORMAL: "#b3261e", INDETERMINATE: "#a15c00", NORMAL: "#1e6b2f", WITHHELD: "#6b6b6b",
                NOT_RUN: "#6b6b6b"}
# A probability this close to the threshold in force (percentage points) is called indeterminate:
# the threshold was chosen on validation data, and a few points either side is within its error.
INDETERMINATE_BAND = 0.05
CALL_RULE = ("abnormal / normal: at or above / below the threshold in force (card: the model card's; site: this "
             f"site's calibration); indeterminate: within {100 * INDETERMINATE_BAND:.0f} percentage points of it")
# Labels that mean "no finding", whatever the model (the cards' own words).
NEGATIVE_LABELS = frozenset({"normal", "no_opacity", "no_finding", "other", "negative"})
# Plain names of the labels the shipped models call, for readers; others are the label in words.
PLAIN_LABELS = {"tb": "TB", "pneumonia": "Pneumonia", "opacity": "Lung opacity", "frontal_cxr": "Frontal chest film",
                "tb_lesions": "TB-consistent areas", "opacity_lesions": "Lung opacity areas"}
OUTSIDE_POPULATION = "this patient is outside the population it was trained on"
UNKNOWN_AGE = "the study records no age, and the model was trained on one age range"
GATE_WITHHELD = "the image was not accepted as a frontal chest radiograph"


def percent(p: float) -> str:
    """0.973 → "97.3 %"; never "0.0 %" or "100.0 %", which a rounded probability does not mean."""
    if p < 0.001:
        return "<0.1 %"
    if p > 0.999:
        return ">99.9 %"
    return f"{100 * p:.1f} %"


def plain_label(label: str) -> str:
    return PLAIN_LABELS.get(label, label.replace("_", " ").capitalize())


def finding_name(labels: tuple[str, ...], kind: str = "finding") -> str:
    """The plain name of what a model answers, from its labels: a lesion model's first channel
    ("TB-consistent areas"), a two-label classifier's second label ("TB"), else its finding labels
    ("Bacteria / virus"); "" when it names none."""
    if kind == "lesions" or len(labels) == 1:
        return plain_label(labels[0]) if labels else ""
    if len(labels) == 2:
        return plain_label(labels[1])
    findings = [label for label in labels if label not in NEGATIVE_LABELS]
    return " / ".join(plain_label(label) if i == 0 else label.replace("_", " ") for i, label in enumerate(findings))


def age_group(card: ModelCard | None) -> str:
    """"children" or "adults" when the card's population is bound to ages all under or all from
    ADULT_YEARS, else ""."""
    ages = card.population.age_years if card is not None and card.population is not None else None
    if ages is None:
        return ""
    if ages[1] < ADULT_YEARS:
        return "children"
    return "adults" if ages[0] >= ADULT_YEARS else ""


def model_title(model: str, labels: tuple[str, ...], kind: str = "finding", card: ModelCard | None = None) -> str:
    """A model's name for a reader: what it finds, with the age group its card was trained on:
    "TB", "Pneumonia (children)", "TB-consistent areas (adults)"; the model's id when its labels
    name nothing."""
    name = finding_name(card.labels if card is not None else labels, kind) or model
    group = age_group(card)
    return f"{name} ({group})" if group else name


def call_at(probability: float, threshold: float) -> str:
    """abnormal, indeterminate or normal: `probability` against `threshold`, both in [0, 1]."""
    if round(abs(probability - threshold), 9) < INDETERMINATE_BAND:  # 0.69 - 0.64 is 5 points, not 4.99…
        return INDETERMINATE
    return ABNORMAL if probability >= threshold else NORMAL


@dataclass(frozen=True)
class Summary:
    """One model's answer in a line.

    name: the plain name ("TB", "Pneumonia", "TB-consistent areas"); model: the model's id.
    call: one of CALLS. probability: the figure the call is made on, in [0, 1] (None when withheld or
    not run). threshold: the threshold in force, in [0, 1] (None for a most-probable-label call).
    source: whose threshold, "card" or "site". label: the label the figure is for, when the model has
    more than two. reason: why an answer is withheld or did not run.
    """

    name: str
    model: str
    call: str
    probability: float | None = None
    threshold: float | None = None
    source: str = "card"
    label: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        if self.call not in CALLS:
            raise ValueError(f"a call is one of {', '.join(CALLS)}, got {self.call!r}")

    @property
    def answered(self) -> bool:
        return self.call not in (WITHHELD, NOT_RUN)

    @property
    def call_text(self) -> str:
        """The call, with the label for a model of more than two labels: "abnormal (bacteria)"."""
        return f"{self.call} ({self.label})" if self.label and self.answered else self.call

    @property
    def figures(self) -> str:
        """"99.8 %, threshold 64.0 % (card)", or the reason an answer is withheld or did not run."""
        if not self.answered:
            return self.reason
        if self.probability is None:
            return ""
        if self.threshold is None:
            return f"{percent(self.probability)}, the most probable label"
        return f"{percent(self.probability)}, threshold {percent(self.threshold)} ({self.source})"

    def text(self) -> str:
        """"TB: abnormal — 99.8 %, threshold 64.0 % (card)"."""
        figures = f" — {self.figures}" if self.figures else ""
        return f"{self.name}: {self.call_text}{figures}"


def classifier_summary(model: str, labels: tuple[str, ...], probabilities: tuple[float, ...],
                       positive: tuple[int, ...], rule: str, threshold: float | None, site: bool) -> Summary:
    """A classifier's answer (the fields of `analysis.findings.Finding`): for two labels, label 1
    against the threshold in force; for more, the most probable label, abnormal unless it is a "no
    finding" label; for a multilabel model, abnormal when it calls a finding label."""
    source = "site" if site else "card"
    if rule == "threshold" and threshold is not None:
        return Summary(plain_label(labels[1]), model, call_at(probabilities[1], threshold), probabilities[1],
                       threshold, source)
    name = finding_name(labels) or model
    if rule == "argmax":
        ranked = sorted(range(len(labels)), key=probabilities.__getitem__, reverse=True)
        top = ranked[0]
        close = len(ranked) > 1 and probabilities[top] - probabilities[ranked[1]] < INDETERMINATE_BAND
        call = INDETERMINATE if close else (NORMAL if labels[top] in NEGATIVE_LABELS else ABNORMAL)
        return Summary(name, model, call, probabilities[top], None, source, labels[top].replace("_", " "))
    called = [i for i in positive if labels[i] not in NEGATIVE_LABELS]
    shown = max(called or range(len(labels)), key=probabilities.__getitem__)
    return Summary(name, model, ABNORMAL if called else NORMAL, probabilities[shown], None, source,
                   labels[shown].replace("_", " "))


def lesion_summary(model: str, label: str, score: float, threshold: float, site: bool) -> Summary:
    """A lesion-map model's image-level score against its threshold in force."""
    return Summary(plain_label(label), model, call_at(score, threshold), score, threshold, "site" if site else "card")


def withheld(summary: Summary, reason: str) -> Summary:
    """The same model's line with its answer withheld for `reason` (its figures left out)."""
    return replace(summary, call=WITHHELD, probability=None, threshold=None, label="", reason=reason)


def not_run(model: str, reason: str) -> Summary:
    return Summary(model, model, NOT_RUN, reason=reason)


def population_reason(fit: AgeFit, card: ModelCard | None) -> str:
    """Why an answer does not apply to this patient ("" when it does), without naming the age."""
    if fit.answerable:
        return ""
    trained_on = card.population.description if card is not None and card.population is not None else ""
    reason = OUTSIDE_POPULATION if fit.status == "outside" else UNKNOWN_AGE
    return f"{reason} ({trained_on})" if trained_on else reason


# The headline figure of a card, in order of preference: the first of these the card reports.
HEADLINE_METRICS = ("auc", "dice", "tb_images_above_threshold", "accuracy")
NO_EXTERNAL = "external not measured"
METRIC_WORDS = {"auc": "AUC", "dice": "Dice", "tb_images_above_threshold": "TB films called", "accuracy": "accuracy"}


def _split_words(split: str) -> str:
    """A split's name up to its first colon, at most 48 characters: "test (n=746)"."""
    short = split.split(":")[0].strip()
    return short if len(short) <= 48 else short[:47] + "…"


def card_figures(card: ModelCard) -> str:
    """The card's headline figure on external data beside the same figure on internal data, in one
    short line: "AUC: external 0.795 (shenzhen TB vs normal …) · internal 0.998 (test (n=746))";
    a card without an external figure says so; "" for a card with no figure at all."""
    names = [m.name for m in card.metrics]
    headline = next((name for name in HEADLINE_METRICS if name in names), None)
    if headline is None:
        return ""
    parts = []
    for scope in ("external", "internal"):
        found = [m for m in card.metrics if m.name == headline and m.scope == scope]
        if scope == "internal":
            found.sort(key=lambda m: not m.split.lower().startswith("test"))
        if found:
            parts.append(f"{scope} {found[0].value:.3f} ({_split_words(found[0].split)})")
        else:
            parts.append(NO_EXTERNAL if scope == "external" else "internal not reported")
    return f"{METRIC_WORDS.get(headline, headline)}: " + " · ".join(parts)
