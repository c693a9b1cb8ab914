"""How a model's answer is said, in one place, for the findings panel and every report (issue 20,
items 5 and 10): a plain name, the call (abnormal, indeterminate, normal; or withheld, not run, with
the reason), the figure as a percentage, and the threshold in force with whose it is (the card's or
the site's). One number format: every probability and threshold a percentage.

Pure (no Qt): the panel renders a `Summary` as HTML, the PDF report as text runs; both take the
words from `Summary.call_text` and `Summary.figures`, so they cannot drift apart.
"""

from __future__ import annotations

import re
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
    """A split in words (`split_words`), at most 48 characters: "746 test films"."""
    short = split_words(split)
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
            parts.append(f"{scope} {metric_value(headline, found[0].value)} ({_split_words(found[0].split)})")
        else:
            parts.append(NO_EXTERNAL if scope == "external" else "internal not reported")
    return f"{METRIC_WORDS.get(headline, headline)}: " + " · ".join(parts)


# -- a model card's facts in a reader's words (issue 20, item 5) ------------------------------------
# The cards are written by the training code (`training.splits`: "holdout by patient val=0.2 test=0.2
# seed=0"), with metric ids ("auc", "spec_at_90_sens"), data folders and commands. The findings
# panel's details and the report's appendix say them here, in words, with rates as percentages.

# The shared data's sources as a reader knows them (folder ids and the splits' lower-case names).
SOURCE_NAMES = {"shenzhen_tb_128": "Shenzhen", "tbx11k_tb": "TBX11K", "rsna_pneumonia": "RSNA",
                "kermany_pneumonia": "Kermany", "openist_lungs": "OpenIST", "jsrt_bse": "JSRT", "jsrt_lungs": "JSRT",
                "shenzhen": "Shenzhen", "tbx11k": "TBX11K", "rsna": "RSNA", "kermany": "Kermany",
                "openist": "OpenIST", "jsrt": "JSRT"}
_SOURCE_RE = re.compile(r"\b(" + "|".join(sorted(SOURCE_NAMES, key=len, reverse=True)) + r")\b")
# Figures that are shares of films (shown as percentages) and scores (shown as decimals, or units).
RATE_METRICS = ("sensitivity", "specificity", "accuracy", "precision", "recall", "ppv", "npv", "acceptance_rate",
                "rejection_rate", "false_positive_rate", "tb_images_above_threshold", "opacity_images_above_threshold",
                "sens_at_", "spec_at_", "box_recall", "pointing_game", "ece")
METRIC_NAMES = {
    "auc": "AUC", "sensitivity": "sensitivity", "specificity": "specificity", "accuracy": "accuracy",
    "precision": "positive predictive value", "ppv": "positive predictive value",
    "npv": "negative predictive value", "recall": "sensitivity", "f1": "F1 score", "macro_f1": "F1 score (mean over labels)",
    "mcc": "Matthews correlation", "ece": "calibration error", "brier": "Brier score (0 is best)",
    "dice": "Dice overlap", "iou": "overlap (IoU)", "hd95": "boundary distance (95th percentile)",
    "hausdorff": "largest boundary distance", "psnr": "PSNR", "mae": "mean absolute error", "ssim": "SSIM",
    "ms_ssim": "multi-scale SSIM", "acceptance_rate": "chest films accepted", "rejection_rate": "other images refused",
    "tb_images_above_threshold": "TB films called", "opacity_images_above_threshold": "opacity films called",
    "pointing_game": "map's peak inside a marked lesion",
}
_METHOD_RE = re.compile(r"(holdout by patient|by \w+ seed=|each source on its own|fold \d+ of \d+|none\b)")


def _share(fraction: str) -> str:
    """"0.2" → "20 %"."""
    try:
        return f"{100 * float(fraction):g} %"
    except ValueError:
        return fraction


def _sources(text: str) -> str:
    """Source ids as a reader knows them: "tbx11k, rsna" → "TBX11K, RSNA"; "Shenzhen shenzhen_tb_128" → "Shenzhen"."""
    named = _SOURCE_RE.sub(lambda m: SOURCE_NAMES[m.group(1)], text)
    return re.sub(r"\b(\w+) \1\b", r"\1", named)


def card_text(text: str) -> str:
    """Any card sentence without the developer's marks: data folder paths, "seed=0", file names,
    "(n=24)" → "(24 films)", "[…]" → "(…)", source ids named, a threshold as a percentage."""
    text = re.sub(r"\.\./shared/data(/[^\s);,]*)?", "the shared data", text)
    text = re.sub(r" ?\(the shared data\)", "", text).replace("(the shared data: ", "(")
    text = re.sub(r",? ?\bseed=\d+\b", "", text)
    text = re.sub(r"\b(?:docs|configs)/[\w./-]+\.(?:md|yaml)\b", "the project's notes", text)
    text = re.sub(r";? ?\bWilson 95 % CI\b", "", text)  # each figure carries its interval
    # A threshold in a sentence in the one number format: "called at 0.6377" → "called at 63.8 %".
    text = re.sub(r"(\bcalled at|\bthreshold|>=|≥) (0\.\d+|1\.0+)\b", lambda m: f"{m.group(1)} {percent(float(m.group(2)))}",
                  text)
    text = re.sub(r"\bn=(\d+)", lambda m: f"{m.group(1)} film" + ("" if m.group(1) == "1" else "s"), text)
    text = text.replace("[", "(").replace("]", ")")
    text = re.sub(r"(^|\(|\b)val\b(?!\w)", r"\1validation", text)
    return _sources(text).strip()


def method_words(method: str) -> str:
    """How a card's films were split, in words: "holdout by patient val=0.2 test=0.2 seed=0" →
    "tested on 20 % of the patients, kept apart from training; another 20 % chose the model";
    other methods of `training.splits` likewise; anything else cleaned by `card_text`."""
    method = method.strip()
    each = re.match(r"each source on its own \(([^)]*)\): (.*)", method)
    if each:
        return f"each source ({_sources(each.group(1))}) on its own: {method_words(each.group(2))}"
    holdout = re.match(r"holdout by patient val=([\d.]+) test=([\d.]+)", method)
    if holdout:
        val, test = (_share(x) for x in holdout.groups())
        return (f"tested on {test} of the patients, kept apart from training; another {val} chose the model and its "
                "threshold; no patient in two of these")
    source = re.match(r"by source seed=\d+: trained on (.*?) \(test_fraction=([\d.]+) of each held out\); "
                      r"validation (.*?); test (.*?) \(a source in both is halved by patient\)", method)
    if source:
        trained, share, val, test = source.groups()
        return (f"trained on {_sources(trained)}, tested on {_share(share)} of its patients kept apart from training; "
                f"the model and its threshold chosen on {_sources(val)}, never trained on; also tested on "
                f"{_sources(test)} (a source used for both is halved by patient)")
    parts = re.match(r"by (\w+) seed=\d+: trained on (.*?) \(([\d.]+) of its patients held out as the internal "
                     r"test\); validation (.*?); external test (.*)", method)
    if parts:
        _, trained, share, val, external = parts.groups()
        return (f"trained on {_sources(trained)}, tested on {_share(share)} of its patients kept apart from training; "
                f"the model chosen on {_sources(val)}; tested apart on {_sources(external)}")
    fold = re.match(r"fold (\d+) of (\d+) by patient", method)
    if fold:
        return f"cross-validation by patient: tested on part {int(fold.group(1)) + 1} of {fold.group(2)}, kept apart from training"
    return card_text(method)


def split_words(split: str) -> str:
    """A metric's split as a reader reads it, without the split method (`method_words` says it
    once): "test (n=746): holdout by patient val=0.15 test=0.15 seed=0" → "746 test films";
    "validation (n=689): …" → "689 validation films (chose the model)"; "test: jsrt (n=24)" → "test:
    JSRT (24 films)"; "external proxy: Shenzhen TB …" unchanged but for `card_text`."""
    method = re.search(r": (?=" + _METHOD_RE.pattern + ")", split)
    if method:
        split = split[:method.start()]
    bare = re.fullmatch(r"(test|validation|val)(?: \(n=(\d+)\))?", split.strip())
    if bare:
        part, n = bare.groups()
        films = f"{n} " if n else ""
        return f"{films}test films" if part == "test" else f"{films}validation films (chose the model)"
    return card_text(split)


def metric_words(name: str) -> str:
    """A metric id in words: "auc" → "AUC", "spec_at_90_sens" → "specificity at 90 % sensitivity",
    "sensitivity[tbx11k]" → "sensitivity on TBX11K", "false_positive_rate_jsrt" → "normal films called
    (false positives), JSRT", "box_recall_at_fp_area_0.01" → "TB boxes found at 1 % false-positive area"."""
    per = re.fullmatch(r"(.+)\[(.+)\]", name)
    if per:
        return f"{metric_words(per.group(1))} on {_sources(per.group(2))}"
    at = re.fullmatch(r"(sens|spec)_at_(\d+)_(sens|spec)", name)
    if at:
        words = {"sens": "sensitivity", "spec": "specificity"}
        return f"{words[at.group(1)]} at {at.group(2)} % {words[at.group(3)]}"
    if name.startswith("false_positive_rate"):
        source = name.removeprefix("false_positive_rate").strip("_").replace("_", " ")
        return "normal films called (false positives)" + (f", {_sources(source)}" if source else "")
    box = re.fullmatch(r"box_recall_at_fp_area_([\d.]+)", name)
    if box:
        return f"TB boxes found at {_share(box.group(1))} false-positive area"
    game = re.fullmatch(r"pointing_game(?:_(\w+))?", name)
    if game:
        return METRIC_NAMES["pointing_game"] + (f" ({game.group(1).replace('gradcam', 'Grad-CAM')} map)"
                                                 if game.group(1) else "")
    identity = re.fullmatch(r"identity_(\w+)", name)
    if identity:
        return f"{metric_words(identity.group(1))} of the unchanged film"
    return METRIC_NAMES.get(name.lower(), name.replace("_", " "))


def metric_value(name: str, value: float) -> str:
    """A figure in the one number format: shares of films as percentages ("89.8 %"), scores as
    decimals ("0.890"), PSNR in dB, distances in pixels."""
    base = re.sub(r"\[.*\]$", "", name).removeprefix("identity_")
    if base.startswith(RATE_METRICS):
        return f"{100 * value:.1f} %"
    if base == "psnr":
        return f"{value:.1f} dB"
    if base in ("hd95", "hausdorff"):
        return f"{value:.1f} px"
    return f"{value:.3f}"


def metric_text(name: str, value: float, ci95: tuple[float, float] | None = None) -> str:
    """"specificity 70.0 % (95 % CI 63.0–79.2 %)", "AUC 0.912 (95 % CI 0.880–0.940)"."""
    text = f"{metric_words(name)} {metric_value(name, value)}"
    if ci95 is not None:
        low, high = (metric_value(name, v) for v in ci95)
        text += f" (95 % CI {low.removesuffix(' %')}–{high})"
    return text


def data_words(entries: tuple[str, ...]) -> str:
    """What a model was trained on, without folder paths: "Kermany 2018 pneumonia; research use"."""
    return "; ".join(card_text(entry) for entry in entries)


def trained_words(card: ModelCard) -> str:
    """"version 3, trained 2026-12-06" (no command, commit or wall time)."""
    date = card.provenance.date[:10]
    return f"version {card.version}" + (f", trained {date}" if date else "")


def threshold_origin(threshold: float, site: object | None) -> str:
    """Where the threshold in force came from: the card's (chosen by its trainer on validation films) or
    this site's calibration (`core.site_settings.SiteThreshold`), in percentages."""
    if site is None:
        return f"{percent(threshold)}, the model card's: chosen by its trainer on the validation films"
    return (f"{percent(threshold)}, this site's: calibrated on {site.films} local films on {site.calibrated} "
            f"(the model card's is {percent(site.card_threshold)})")


def signature_words(origin: str) -> str:
    """A model's origin: a signed release model, or why it is not one (`core.signing.UNSIGNED_TEXT`)."""
    return f"{origin} — not a release model; its card's figures are its trainer's own" if origin else \
        "release model, its signature verified on loading"
