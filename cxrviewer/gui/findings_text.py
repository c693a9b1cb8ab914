"""The findings panel's text: one model's finding, its error, and what its card says, as Qt rich text.

Pure string formatting (no Qt), so what the reader is told can be tested on hand-built cards. Every
value from a card or an error message is HTML-escaped. Links: "class:<model>/<label>" selects a
label, "about:<model>" opens or closes the card's details, "gate:show-anyway" shows findings the gate withheld. Cautions (`cxrviewer.core.suitability`) come
first: above every block when they concern the study, under a model's name when they concern that model.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.gate import WITHHELD_MESSAGE, GateResult
from cxrviewer.analysis.pipeline import LesionFinding
from cxrviewer.analysis.report_readings import finding_summary
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.reading_words import CALL_COLOURS, withheld
from cxrviewer.core.reading_words import percent as plain_percent

LESION_TITLE = "TB-consistent findings"
# Per lesion channel (`analysis.pipeline.LESION_LABELS`): the block's title, and what a call says.
LESION_WORDS = {
    "tb_lesions": (LESION_TITLE, "TB-consistent areas", "no TB-consistent area called"),
    "opacity_lesions": ("Lung opacity (opacity map)", "lung opacity", "no lung opacity called"),
}
# Card metrics that say what the lesion threshold means (lesion_eval writes them): shown with the score.
LESION_THRESHOLD_METRICS = ("tb_images_above_threshold", "opacity_images_above_threshold", "false_positive_rate_")
ACRONYMS = {"auc": "AUC", "mcc": "MCC", "f1": "F1", "ppv": "PPV", "npv": "NPV", "iou": "IoU"}
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


def about_link(model: str) -> str:
    return f"about:{quote(model, safe='')}"


def header_html(name: str, card: ModelCard | None, detail: str = "") -> str:
    version = f" v{escape(card.version)}" if card is not None else ""
    extra = f" <span style='color:{MUTED}'>· {escape(detail)}</span>" if detail else ""
    return f"<p style='margin-bottom:2px'><b>{escape(name)}</b><span style='color:{MUTED}'>{version}</span>{extra}</p>"


def decision_html(finding: Finding) -> str:
    """The call at the card's operating point, in words (bold label first)."""
    labels, probs = finding.labels, finding.probabilities
    called = ", ".join(f"<b>{escape(labels[i])}</b>" for i in finding.positive)
    if finding.rule == "threshold":
        if 1 in finding.positive:
            return f"{called} — {percent(probs[1])} is at or above the operating threshold {percent(finding.threshold)}"
        return (f"{called} — {escape(labels[1])} {percent(probs[1])} is below the operating threshold "
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
        name = f"<a href='{class_link(finding.model, label)}'>{escape(label)}</a>"
        if index in finding.positive:
            name = f"<b>{name}</b>"
        rows.append(f"<tr><td>{name}</td><td align='right'>&nbsp;{percent(p)}&nbsp;</td><td width='45%'>{bar}</td></tr>")
    return (f"<table width='100%' cellspacing='0' cellpadding='1'>{''.join(rows)}</table>"
            f"<p style='margin-top:4px'>{decision_html(finding)}</p>{call_basis_html(finding)}")


def call_basis_html(finding: Finding | LesionFinding) -> str:
    """Where the call's threshold came from when it is not the card's (a site calibration), and a
    model's origin when the release did not sign it; "" for a signed model at its card threshold."""
    lines = []
    if finding.site is not None:
        lines.append(f"<span style='color:{CAUTION_TEXT}'>Called at the {escape(finding.site.describe())}</span>")
    if finding.origin:
        lines.append(f"<span style='color:{CAUTION_TEXT}'><b>{escape(finding.origin)}</b> — not a release model; "
                     "its card's figures are its trainer's own</span>")
    return f"<p style='margin-top:2px'>{'<br>'.join(lines)}</p>" if lines else ""


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


def metric_name(name: str) -> str:
    return ACRONYMS.get(name.lower(), name.replace("_", " ").capitalize())


SCOPE_HEADINGS = {
    "external": "On data it never saw in training or selection (external)",
    "internal": "On a held-out part of the sources it trained on (internal)",
}
NO_EXTERNAL = ("No external figure: this model was measured only on held-out parts of the sources it "
               "trained on, which flatters it; expect lower figures on other hospitals' films.")


def metrics_html(card: ModelCard) -> str:
    """Held-out metrics, external ones first, grouped by the split they were measured on, with
    their 95 % CI when known; a card without any external figure says so."""
    if not card.metrics:
        return ""
    parts = []
    for scope in ("external", "internal"):
        splits: dict[str, list[str]] = {}
        for metric in (m for m in card.metrics if m.scope == scope):
            text = f"{metric_name(metric.name)} {metric.value:.3f}"
            if metric.ci95 is not None:
                text += f" (95 % CI {metric.ci95[0]:.3f}–{metric.ci95[1]:.3f})"
            splits.setdefault(metric.split, []).append(escape(text))
        if not splits:
            if scope == "external":
                parts.append(f"<p><b>{escape(NO_EXTERNAL)}</b></p>")
            continue
        parts.append(f"<p><b>{SCOPE_HEADINGS[scope]}</b></p>")
        parts += [f"<p><i>Measured on {escape(split) or 'an unnamed split'}:</i><br>{'<br>'.join(items)}</p>"
                  for split, items in splits.items()]
    return "".join(parts)


def confusion_html(card: ModelCard) -> str:
    blocks = []
    for confusion in card.confusion:
        head = "".join(f"<td align='right'><i>{escape(label)}</i></td>" for label in card.labels)
        rows = "".join(
            f"<tr><td><i>{escape(label)}</i></td>{''.join(f'<td align=right>{n}</td>' for n in row)}</tr>"
            for label, row in zip(card.labels, confusion.matrix, strict=True)
        )
        blocks.append(f"<p><i>Confusion on {escape(confusion.split)} (rows true, columns predicted):</i></p>"
                      f"<table cellspacing='0' cellpadding='2'><tr><td></td>{head}</tr>{rows}</table>")
    return "".join(blocks)


def complexity_html(card: ModelCard) -> str:
    c = card.complexity
    if c is None:
        return ""
    parts = [f"{c.parameters / 1e6:.2f} M parameters"]
    if c.macs is not None:
        parts.append(f"{c.macs / 1e9:.2f} GMACs")
    if c.cpu_ms is not None:
        parts.append(f"{c.cpu_ms:.0f} ms on CPU" + (f" ({c.cpu_note})" if c.cpu_note else ""))
    return f"<p><i>Cost:</i> {escape(', '.join(parts))}</p>"


def limits_html(card: ModelCard) -> str:
    """What the model was not validated for: always shown, not hidden in the details."""
    if not card.limits:
        return f"<p style='color:{MUTED}'>The card states no limits of validation.</p>"
    items = "".join(f"<li>{escape(limit)}</li>" for limit in card.limits)
    return f"<p style='margin-bottom:0'><i>Not validated for / limits:</i></p><ul style='margin-top:0'>{items}</ul>"


def about_html(card: ModelCard) -> str:
    """The card's details: data and split, metrics, what the probability means, notes, cost."""
    parts = []
    prov = card.provenance
    if prov.data:
        parts.append(f"<p><i>Trained on:</i> {escape('; '.join(prov.data))}</p>")
    if card.population is not None and card.population.description:
        parts.append(f"<p><i>Population:</i> {escape(card.population.description)}</p>")
    if prov.split:
        parts.append(f"<p><i>Split:</i> {escape(prov.split)}</p>")
    if prov.date:
        parts.append(f"<p><i>Trained:</i> {escape(prov.date[:10])}"
                     + (f", commit {escape(prov.commit[:8])}" if prov.commit else "") + "</p>")
    parts.append(metrics_html(card) or "<p>The card reports no held-out metrics.</p>")
    if card.probability_meaning:
        parts.append(f"<p><i>What the probability means:</i> {escape(card.probability_meaning)}</p>")
    parts.append(confusion_html(card))
    parts += [f"<p><i>Note:</i> {escape(note)}</p>" for note in card.notes]
    parts.append(complexity_html(card))
    if card.reference is not None:
        # A classifier's reference is its probabilities; an image model's, figures of its output.
        expected = " / ".join(percent(p) for p in card.reference.probabilities) or escape(", ".join(
            f"{name.replace('_', ' ')} {value:.3f}" for name, value in card.reference.figures.items()))
        parts.append(f"<p><i>Self-check:</i> {escape(card.reference.input)} gave {expected} at export</p>")
    parts.append(f"<p><i>Architecture:</i> {escape(card.arch)}, input {card.input.width}×{card.input.height}"
                 f"×{card.input.channels}</p>")
    return f"<div style='margin-left:8px'>{''.join(parts)}</div>"


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
            lines.append(f"{figures} <span style='color:{MUTED}'>({scope}: {escape(split)})</span>")
    if not lines:
        return ""
    return f"<p style='margin-top:2px'><i>At this threshold:</i> {'<br>'.join(lines)}</p>"


def model_html(name: str, card: ModelCard | None, outcome: Finding | str | None, expanded: bool,
               cautions: tuple[str, ...] = ()) -> str:
    """One model's block: header, its cautions, finding (or error, or running), limits, details link."""
    if isinstance(outcome, Finding):
        body = finding_html(outcome)
        if outcome.rule == "threshold" and card is not None:
            body += operating_point_html(card)
        detail = f"{outcome.provider}, {1000 * outcome.seconds:.0f} ms"
    elif isinstance(outcome, str):
        body, detail = error_html(outcome), ""
    else:
        body, detail = pending_html(), ""
    parts = [header_html(name, card, detail), cautions_html(cautions), body]
    return "".join(parts + card_tail_html(name, card, expanded))


def card_tail_html(name: str, card: ModelCard | None, expanded: bool) -> list[str]:
    """What follows a model's answer: its limits and the "About this model" link (and the card when open)."""
    if card is None:
        return []
    arrow = "▾" if expanded else "▸"
    parts = [limits_html(card), f"<p><a href='{about_link(name)}'>About this model {arrow}</a></p>"]
    return parts + ([about_html(card)] if expanded else [])


def lesion_metrics_html(card: ModelCard) -> str:
    """The card's figures at the image-level threshold (share of held-out TB images called, false
    positive rate on normal radiographs of each source), each with where it was measured."""
    rows = [f"{escape(metric_name(m.name))} {percent(m.value)} <span style='color:{MUTED}'>({escape(m.split)})</span>"
            for m in card.metrics if m.name.startswith(LESION_THRESHOLD_METRICS)]
    return f"<p style='margin-top:2px'><i>At this threshold:</i><br>{'<br>'.join(rows)}</p>" if rows else ""


def lesion_words(label: str) -> tuple[str, str, str]:
    """(title, positive call, negative call) of a lesion channel; the TB wording for one not known."""
    return LESION_WORDS.get(label, LESION_WORDS["tb_lesions"])


def lesion_finding_html(finding: LesionFinding, card: ModelCard | None) -> str:
    """A lesion model's image-level score (TB-consistent findings, lung opacity) against the card's
    threshold, what the score means, and the card's figures at that threshold."""
    _, positive, negative = lesion_words(finding.label)
    if finding.positive:
        call = (f"<b>{positive}</b> — score {percent(finding.score)} is at or above the threshold "
                f"{percent(finding.threshold)}")
    else:
        call = (f"<b>{negative}</b> — score {percent(finding.score)} is below the threshold "
                f"{percent(finding.threshold)}")
    parts = [f"<p style='margin-top:4px'>{call}</p>", call_basis_html(finding)]
    if card is not None and card.probability_meaning:
        parts.append(f"<p><i>What the score means:</i> {escape(card.probability_meaning)}</p>")
    if card is not None:
        parts.append(lesion_metrics_html(card))
    return "".join(parts)


def lesion_html(name: str, card: ModelCard | None, outcome: LesionFinding | str | None, expanded: bool,
                cautions: tuple[str, ...] = ()) -> str:
    """A lesion model's block (TB lesions, lung opacity: the title follows the card's first channel):
    title, its cautions, the score (or error, or running), limits, details link."""
    if isinstance(outcome, LesionFinding):
        body = lesion_finding_html(outcome, card)
        detail = f"{name}, {outcome.provider}, {1000 * outcome.seconds:.0f} ms"
    elif isinstance(outcome, str):
        body, detail = error_html(outcome), name
    else:
        body, detail = pending_html(), name
    label = card.labels[0] if card is not None and card.labels else "tb_lesions"
    parts = [header_html(lesion_words(label)[0], card, detail), cautions_html(cautions), body]
    return "".join(parts + card_tail_html(name, card, expanded))


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


def summary_html(outcomes: list[tuple[Finding | LesionFinding, str | bool]]) -> str:
    """The models' calls first, one line each, before their details; "" when none is in yet. Each
    outcome comes with why its answer does not apply to this patient (`core.reading_words.
    population_reason`; "" or True when it applies, False for a reason not known): such an answer is
    not put at the top, its line says it is withheld and why, and its block below carries the caution."""
    lines = []
    for outcome, applies in outcomes:
        reason = OUTSIDE_POPULATION if applies is False else ("" if applies is True else applies)
        lines.append(summary_line(outcome, reason))
    return f"<p style='margin:2px 0 6px 0'>{'<br>'.join(lines)}</p>" if lines else ""


def panel_html(blocks: list[str], study_cautions: tuple[str, ...] = ()) -> str:
    rule = f"<hr style='background-color:{RULE_COLOUR}'>"
    return cautions_html(study_cautions) + rule.join(blocks) + f"{rule}<p style='color:{MUTED}'><small>{FOOTER}</small></p>"
