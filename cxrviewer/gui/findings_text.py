"""The findings panel's text as Qt rich text: one summary line per model at the top, each with a
"Details ▸" link, and under the summary lines the details of the models the reader opened (every
label's probability, the threshold in force and where it came from, the card's figures external and
internal, population, limits, origin); folded until then (issue 20, item 5).

Pure string formatting (no Qt), so what the reader is told can be tested on hand-built cards. The
words are `core.reading_words`' (the reports use the same): percentages for every probability,
threshold and share of films; the cards' split methods, metric ids and data folders in plain words.
Every value from a card or an error message is HTML-escaped. Links: "class:<model>/<label>" selects a
label, "details:<model>" opens or closes the model's details, "gate:show-anyway" shows findings the
gate withheld. Cautions (`cxrviewer.core.suitability`) come first: above every line when they
concern the study, under a model's line when they concern that model (in its details when the line
already says the answer is withheld and why).
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.gate import WITHHELD_MESSAGE, GateResult
from cxrviewer.analysis.pipeline import LesionFinding
from cxrviewer.analysis.report_readings import finding_summary
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.reading_words import (
    CALL_COLOURS,
    NOT_RUN,
    card_text,
    data_words,
    method_words,
    metric_text,
    plain_label,
    signature_words,
    split_words,
    threshold_origin,
    trained_words,
    withheld,
)
from cxrviewer.core.reading_words import percent as plain_percent

LESION_TITLE = plain_label("tb_lesions")  # the TB lesion model's line: "TB-consistent areas: normal — …"
DETAILS_OPEN, DETAILS_CLOSED = "Details ▾", "Details ▸"
# Per lesion channel (`analysis.pipeline.LESION_LABELS`): what a call says, positive and negative.
LESION_WORDS = {
    "tb_lesions": ("TB-consistent areas", "no TB-consistent area called"),
    "opacity_lesions": ("lung opacity", "no lung opacity called"),
}
# Card metrics that say what the lesion threshold means (lesion_eval writes them): shown with the score.
LESION_THRESHOLD_METRICS = ("tb_images_above_threshold", "opacity_images_above_threshold", "false_positive_rate_")
BAR_COLOUR, CALLED_COLOUR, MUTED, RULE_COLOUR = "#4a90d9", "#d9822b", "#808080", "#c8c8c8"
CAUTION_BACKGROUND, CAUTION_TEXT = "#fff3cd", "#6b4200"  # both set, so it reads on light and dark themes
SHOW_ANYWAY_LINK = "gate:show-anyway"
OUTSIDE_POPULATION = "this patient is outside the population it was trained on, or of unknown age"
FOOTER = "Model outputs are research aids for a reader, not diagnoses."


def percent(p: float) -> str:
    """`core.reading_words.percent` for HTML: 0.973 → "97.3 %", never "0.0 %" or "100.0 %"."""
    return escape(plain_percent(p))


def class_link(model: str, label: str) -> str:
    return f"class:{quote(model, safe='')}/{quote(label, safe='')}"


def details_link(model: str) -> str:
    return f"details:{quote(model, safe='')}"


def header_html(name: str, card: ModelCard | None, detail: str = "") -> str:
    """The details' first line, in grey: the model's id, version, training date, where it ran."""
    parts = [name] + ([trained_words(card)] if card is not None else []) + ([detail] if detail else [])
    return f"<p style='margin:2px 0; color:{MUTED}'>{escape(' · '.join(parts))}</p>"


def decision_html(finding: Finding) -> str:
    """The call at the card's operating point, in words (bold label first)."""
    labels, probs = finding.labels, finding.probabilities
    called = ", ".join(f"<b>{escape(plain_label(labels[i]))}</b>" for i in finding.positive)
    if finding.rule == "threshold":
        if 1 in finding.positive:
            return f"{called} — {percent(probs[1])} is at or above the operating threshold {percent(finding.threshold)}"
        return (f"{called} — {escape(plain_label(labels[1]))} {percent(probs[1])} is below the operating threshold "
                f"{percent(finding.threshold)}")
    if finding.rule == "argmax":
        return f"{called} — the most probable of {len(labels)} labels (no threshold)"
    if not finding.positive:
        return "no label at or above its operating threshold"
    return f"{called} — at or above {'its' if len(finding.positive) == 1 else 'their'} operating threshold"


def finding_html(finding: Finding) -> str:
    """Probabilities in the card's label order, each with a bar, then the decision."""
    rows = []
    for index, (label, p) in enumerate(zip(finding.labels, finding.probabilities, strict=True)):
        colour = CALLED_COLOUR if index in finding.positive else BAR_COLOUR
        width = max(1, round(100 * p))
        bar = (f"<table width='100%' cellspacing='0' cellpadding='0'><tr><td width='{width}%' bgcolor='{colour}'>"
               f"&nbsp;</td><td></td></tr></table>")
        name = f"<a href='{class_link(finding.model, label)}'>{escape(plain_label(label))}</a>"
        if index in finding.positive:
            name = f"<b>{name}</b>"
        rows.append(f"<tr><td>{name}</td><td align='right'>&nbsp;{percent(p)}&nbsp;</td><td width='45%'>{bar}</td></tr>")
    return (f"<table width='100%' cellspacing='0' cellpadding='1'>{''.join(rows)}</table>"
            f"<p style='margin-top:4px'>{decision_html(finding)}</p>")


def cautions_html(cautions: tuple[str, ...]) -> str:
    """Each caution on an amber band, before anything else it qualifies; "" when there are none."""
    return "".join(
        f"<table width='100%' cellspacing='0' cellpadding='4' bgcolor='{CAUTION_BACKGROUND}' "
        f"style='margin-bottom:4px'><tr><td style='color:{CAUTION_TEXT}'><b>Caution:</b> {escape(text)}"
        "</td></tr></table>"
        for text in cautions
    )


def gate_html(outcome: GateResult | str | None, overridden: bool) -> str:
    """The chest X-ray gate's verdict above the findings: withheld with a "Show anyway" link, shown
    anyway on the reader's say (still on an amber band), checking, or the gate's error."""
    if outcome is None:
        return f"<p style='color:{MUTED}'>Checking that this is a frontal chest radiograph…</p>"
    if isinstance(outcome, str):
        return cautions_html((f"the frontal chest radiograph check could not run ({outcome}); "
                              "the findings below are unchecked",))
    if outcome.accepted:
        return ""
    figures = f"(P = {percent(outcome.score)}, threshold {percent(outcome.threshold)})"
    if overridden:
        return cautions_html((f"{WITHHELD_MESSAGE.split(':')[0]} {figures}; shown anyway at the reader's request",))
    return (f"<table width='100%' cellspacing='0' cellpadding='4' bgcolor='{CAUTION_BACKGROUND}'><tr>"
            f"<td style='color:{CAUTION_TEXT}'><b>{escape(WITHHELD_MESSAGE)}</b> {figures}. "
            f"<a href='{SHOW_ANYWAY_LINK}'>Show anyway</a></td></tr></table>")


def error_html(message: str) -> str:
    return f"<p style='color:#c0392b'>Could not run: {escape(message)}</p>"


def pending_html() -> str:
    return f"<p style='color:{MUTED}'>Running…</p>"


SCOPE_HEADINGS = {
    "external": "On films from sources it never saw in training or selection (external)",
    "internal": "On films of its own sources kept apart from training (internal)",
}
NO_EXTERNAL = ("No external figure: this model was measured only on films of the sources it trained on, "
               "which flatters it; expect lower figures on other hospitals' films.")


def threshold_html(finding: Finding | LesionFinding) -> str:
    """The threshold in force and where it came from (the card's, or this site's calibration)."""
    if finding.threshold is None:
        return ""
    return f"<p style='margin-top:2px'><i>Threshold:</i> {escape(threshold_origin(finding.threshold, finding.site))}</p>"


def origin_html(finding: Finding | LesionFinding | None) -> str:
    """Whether the model is a signed release model, or why it is not (on an amber line)."""
    if finding is None:
        return ""
    words = escape(signature_words(finding.origin))
    if finding.origin:
        return f"<p><i>Origin:</i> <span style='color:{CAUTION_TEXT}'><b>{words}</b></span></p>"
    return f"<p><i>Origin:</i> {words}</p>"


def metrics_html(card: ModelCard) -> str:
    """The card's figures, external ones first, grouped by the films they were measured on, with
    their 95 % CI when known; a card without any external figure says so."""
    if not card.metrics:
        return "<p>The card reports no figures measured on films kept apart from training.</p>"
    parts = []
    for scope in ("external", "internal"):
        splits: dict[str, list[str]] = {}
        for metric in (m for m in card.metrics if m.scope == scope):
            splits.setdefault(split_words(metric.split), []).append(escape(metric_text(metric.name, metric.value,
                                                                                        metric.ci95)))
        if not splits:
            if scope == "external":
                parts.append(f"<p><b>{escape(NO_EXTERNAL)}</b></p>")
            continue
        parts.append(f"<p><b>{SCOPE_HEADINGS[scope]}</b></p>")
        parts += [f"<p><i>{escape(split) or 'Unnamed films'}:</i><br>{'<br>'.join(items)}</p>"
                  for split, items in splits.items()]
    return "".join(parts)


def limits_html(card: ModelCard) -> str:
    """What the model was not validated for."""
    if not card.limits:
        return f"<p style='color:{MUTED}'>The card states no limits of validation.</p>"
    items = "".join(f"<li>{escape(card_text(limit))}</li>" for limit in card.limits)
    return f"<p style='margin-bottom:0'><i>Not validated for / limits:</i></p><ul style='margin-top:0'>{items}</ul>"


def card_html(card: ModelCard) -> str:
    """What the card says, in words: who it was trained on, on what, how it was tested, its
    figures (external first) and its limits."""
    parts = []
    if card.population is not None and card.population.description:
        parts.append(f"<p><i>Population:</i> {escape(card.population.description)}</p>")
    if card.provenance.data:
        parts.append(f"<p><i>Trained on:</i> {escape(data_words(card.provenance.data))}</p>")
    if card.provenance.split and card.provenance.split != "none":
        parts.append(f"<p><i>How it was tested:</i> {escape(method_words(card.provenance.split))}</p>")
    parts.append(metrics_html(card))
    parts.append(limits_html(card))
    return "".join(parts)


def operating_point_html(card: ModelCard) -> str:
    """What the operating threshold means: the card's sensitivity and specificity at it, from the
    first internal split that reports them (the test split when there is one) and from each external
    split beside it, so the reader sees how far they hold; "" when the card has neither."""
    wanted = ("sensitivity", "specificity")
    lines = []
    for scope in ("internal", "external"):
        splits = list(dict.fromkeys(m.split for m in card.metrics if m.name in wanted and m.scope == scope))
        if scope == "internal" and splits:
            splits = [next((s for s in splits if s.lower().startswith("test")), splits[0])]
        for split in splits:
            figures = ", ".join(f"{m.name} {percent(m.value)}" for m in card.metrics
                                if m.split == split and m.name in wanted and m.scope == scope)
            lines.append(f"{figures} <span style='color:{MUTED}'>({scope}: {escape(split_words(split))})</span>")
    if not lines:
        return ""
    return f"<p style='margin-top:2px'><i>At this threshold:</i> {'<br>'.join(lines)}</p>"


def model_html(name: str, card: ModelCard | None, outcome: Finding | str | None,
               cautions: tuple[str, ...] = ()) -> str:
    """A classifier's details: where it ran, its cautions, every label's probability and the call,
    the threshold and where it came from, the card's figures at it, the card, the model's origin."""
    parts = [cautions_html(cautions)]
    detail = ""
    if isinstance(outcome, Finding):
        parts += [finding_html(outcome), threshold_html(outcome)]
        if outcome.rule == "threshold" and card is not None:
            parts.append(operating_point_html(card))
        detail = f"{outcome.provider}, {1000 * outcome.seconds:.0f} ms"
    elif isinstance(outcome, str):
        parts.append(error_html(outcome))
    else:
        parts.append(pending_html())
    parts += [card_html(card) if card is not None else "", origin_html(outcome if isinstance(outcome, Finding) else None)]
    return details_block(header_html(name, card, detail) + "".join(parts))


def details_block(html: str) -> str:
    return f"<table width='100%' cellspacing='0' cellpadding='0' style='margin-left:14px'><tr><td>{html}</td></tr></table>"


def lesion_metrics_html(card: ModelCard) -> str:
    """The card's figures at the image-level threshold (share of held-out TB images called, false
    positive rate on normal radiographs of each source), each with where it was measured."""
    rows = [f"{escape(metric_text(m.name, m.value))} <span style='color:{MUTED}'>({escape(split_words(m.split))})</span>"
            for m in card.metrics if m.name.startswith(LESION_THRESHOLD_METRICS)]
    return f"<p style='margin-top:2px'><i>At this threshold:</i><br>{'<br>'.join(rows)}</p>" if rows else ""


def lesion_words(label: str) -> tuple[str, str]:
    """(positive call, negative call) of a lesion channel; the TB wording for one not known."""
    return LESION_WORDS.get(label, LESION_WORDS["tb_lesions"])


def lesion_finding_html(finding: LesionFinding, card: ModelCard | None) -> str:
    """A lesion model's image-level score (TB-consistent findings, lung opacity) against its
    threshold, where the threshold came from, what the score means, and the card's figures at it."""
    positive, negative = lesion_words(finding.label)
    if finding.positive:
        call = (f"<b>{positive}</b> — score {percent(finding.score)} is at or above the threshold "
                f"{percent(finding.threshold)}")
    else:
        call = (f"<b>{negative}</b> — score {percent(finding.score)} is below the threshold "
                f"{percent(finding.threshold)}")
    parts = [f"<p style='margin-top:4px'>{call}</p>", threshold_html(finding)]
    if card is not None and card.probability_meaning:
        parts.append(f"<p><i>What the score means:</i> {escape(card_text(card.probability_meaning))}</p>")
    if card is not None:
        parts.append(lesion_metrics_html(card))
    return "".join(parts)


def lesion_html(name: str, card: ModelCard | None, outcome: LesionFinding | str | None,
                cautions: tuple[str, ...] = ()) -> str:
    """A lesion model's details (TB lesions, lung opacity): where it ran, its cautions, the score
    against the threshold and where that came from, the card, the model's origin."""
    parts = [cautions_html(cautions)]
    detail = ""
    if isinstance(outcome, LesionFinding):
        parts.append(lesion_finding_html(outcome, card))
        detail = f"{outcome.provider}, {1000 * outcome.seconds:.0f} ms"
    elif isinstance(outcome, str):
        parts.append(error_html(outcome))
    else:
        parts.append(pending_html())
    parts += [card_html(card) if card is not None else "",
              origin_html(outcome if isinstance(outcome, LesionFinding) else None)]
    return details_block(header_html(name, card, detail) + "".join(parts))


def summary_line(outcome: Finding | LesionFinding, reason: str = "") -> str:
    """One plain line per model for the top of the panel (issue 20, item 5), in the words every
    report uses (`core.reading_words`): "<b>TB</b>: abnormal — 99.8 %, threshold 64.0 % (card) · tb-screen",
    the model's id in grey.
    reason: why the answer does not apply to this patient ("" when it does): the line says so instead."""
    summary = finding_summary(outcome)
    if reason:
        summary = withheld(summary, reason)
    colour = CALL_COLOURS[summary.call]
    figures = f" — {escape(summary.figures)}" if summary.figures else ""
    text = f"<b>{escape(summary.name)}</b>: <span style='color:{colour}'><b>{escape(summary.call_text)}</b></span>"
    model = f" <span style='color:{MUTED}'>· {escape(summary.model)}</span>" if summary.model != summary.name else ""
    return text + figures + model


def waiting_line(title: str, model: str, outcome: str | None) -> str:
    """The line of a model still running ("running…") or that could not run (its error, in red)."""
    said = (f"<span style='color:{CALL_COLOURS[NOT_RUN]}'>running…</span>" if outcome is None
            else f"<span style='color:#c0392b'>Could not run: {escape(outcome)}</span>")
    grey = f" <span style='color:{MUTED}'>· {escape(model)}</span>" if model != title else ""
    return f"<b>{escape(title)}</b>: {said}{grey}"


def applies_reason(applies: str | bool) -> str:
    """Why an answer does not apply ("" when it does): True or "" applies; False, a reason not known."""
    return OUTSIDE_POPULATION if applies is False else ("" if applies is True else applies)


def model_entry_html(model: str, title: str, outcome: object, applies: str | bool, expanded: bool,
                     cautions: tuple[str, ...] = ()) -> str:
    """A model's summary line with its "Details ▸" link ("Details ▾" when open), and the cautions the
    line does not already say (an answer withheld says why in the line: its caution goes in the details)."""
    reason = applies_reason(applies)
    line = (summary_line(outcome, reason) if isinstance(outcome, (Finding, LesionFinding))
            else waiting_line(title, model, outcome if isinstance(outcome, str) else None))
    link = f"<a href='{details_link(model)}'>{DETAILS_OPEN if expanded else DETAILS_CLOSED}</a>"
    parts = [f"<p style='margin:3px 0'>{line}&nbsp;&nbsp;{link}</p>"]
    if cautions and not reason:
        parts.append(cautions_html(cautions))
    return "".join(parts)


def details_section_html(title: str, details: str) -> str:
    """An opened model's details below every summary line, under the model's plain name."""
    return f"<hr style='background-color:{RULE_COLOUR}'><p style='margin:4px 0 2px 0'><b>{escape(title)}</b></p>{details}"


def summary_html(outcomes: list[tuple[Finding | LesionFinding, str | bool]]) -> str:
    """The models' calls, one line each, without links; "" when none is in yet. Each outcome comes
    with why its answer does not apply to this patient (`core.reading_words.population_reason`; ""
    or True when it applies, False for a reason not known): its line says it is withheld and why."""
    lines = [summary_line(outcome, applies_reason(applies)) for outcome, applies in outcomes]
    return f"<p style='margin:2px 0 6px 0'>{'<br>'.join(lines)}</p>" if lines else ""


def panel_html(blocks: list[str], study_cautions: tuple[str, ...] = ()) -> str:
    rule = f"<hr style='background-color:{RULE_COLOUR}'>"
    return (cautions_html(study_cautions) + "".join(blocks)
            + f"{rule}<p style='color:{MUTED}'><small>{FOOTER}</small></p>")
