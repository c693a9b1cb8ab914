"""`cxrviewer calibrate --model NAME DATA... --outcomes CSV`: a model's ROC and thresholds on the site's own films.

    cxrviewer calibrate --model tb-lesions-tbx11k films/ --outcomes outcomes.csv --prevalence 2%
              [--target-sensitivity 0.90 | --threshold T] [--save [--note TEXT]] [--out DIR]

Scores every film in DATA (files and folders) through the viewer's own path and compares the scores
with the confirmed outcomes of the CSV:

    file,outcome,age,sex
    tb/0001.dcm,tb,45,F
    normal/0002.png,normal,,

`file` relative to a DATA folder (or a DATA file's folder) or absolute, each film of DATA listed
once; `outcome` positive as 1, tb, positive, pos, yes, true or the model's positive label, negative
as 0, normal, negative, neg, no, false or its other label; `age` (years, or a DICOM age such as
045Y) and `sex` (M, F, O) optional, else taken from a DICOM film's header. Every bad row, missing
file and unlisted film is named with the CSV's line; a set without positives or without negatives
is refused (no ROC).

Prints the AUC with its bootstrap 95 % interval, the card's threshold, the site's threshold in force,
the chosen threshold (the highest whose sensitivity reaches --target-sensitivity, or --threshold),
each with sensitivity and specificity and their Wilson 95 % intervals, then a table over thresholds
of PPV and NPV at --prevalence (default the sample's own) and, per 1,000 screened, confirmatory
tests and cases found and missed; then the same figures by age band and sex where the CSV or the
DICOM headers give them.

--save writes the chosen threshold as the site's dated setting (`cxrviewer site show`): never an
edit of the card. --out DIR writes operating_table.csv (every distinct score as a threshold),
scores.csv (each film's score and outcome) and summary.json. Skipped films are named with the
reason on stderr; the exit status is 1 when the outcomes or the model are refused.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path

from cxrviewer.commands.common import add_models_dir
from cxrviewer.core.errors import CxrError

log = logging.getLogger(__name__)


def prevalence_value(text: str) -> float:
    """"2%" or "0.02" → 0.02; argparse's type for --prevalence."""
    try:
        value = float(text[:-1]) / 100 if text.strip().endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a prevalence: {text!r} (e.g. 0.02 or 2%)") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"prevalence {text!r} must lie strictly between 0 and 1 (0 % and 100 %)")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must lie in [0, 1]")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="a model's ROC and thresholds on the site's own films with outcomes",
                       description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", nargs="+", type=Path, metavar="DATA", help="the films: files and folders (recursive)")
    p.add_argument("--model", required=True, metavar="NAME", help="an installed two-label classifier or the TB lesion model")
    p.add_argument("--outcomes", required=True, type=Path, metavar="CSV", help="confirmed outcomes: file,outcome[,age,sex]")
    p.add_argument("--prevalence", type=prevalence_value, default=None, metavar="P",
                   help="the programme's prevalence for PPV, NPV and per-1,000 figures (e.g. 2%%; default: the sample's)")
    choice = p.add_mutually_exclusive_group()
    choice.add_argument("--target-sensitivity", type=fraction, default=None, metavar="S",
                        help="choose the highest threshold whose sensitivity is >= S (default 0.90)")
    choice.add_argument("--threshold", type=fraction, default=None, metavar="T", help="choose this threshold")
    p.add_argument("--save", action="store_true", help="save the chosen threshold as the site's (a dated setting)")
    p.add_argument("--note", default="", help="a note saved with it (default: how it was chosen and its figures)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="write the full table, the scores and a JSON summary")
    p.add_argument("--bootstrap", type=int, default=None, metavar="N", help="bootstrap resamples for the AUC interval (2000)")
    p.add_argument("--seed", type=int, default=0, help="the bootstrap's seed")
    add_models_dir(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cxrviewer.analysis.calibration import DEFAULT_TARGET_SENSITIVITY, N_BOOT
    from cxrviewer.analysis.calibration_films import calibrate_films, calibration_kind
    from cxrviewer.analysis.calibration_text import rates, subgroup_text, table_text
    from cxrviewer.analysis.findings import positive_label
    from cxrviewer.analysis.installed import installed_model
    from cxrviewer.core.site_settings import load_site_thresholds

    try:
        loaded = installed_model(args.model, args.models_dir)
        card = loaded.card
        kind = calibration_kind(card)
        label, card_threshold = positive_label(card)
        site = load_site_thresholds().get(card.name)
        log.info("model %s version %s on %s: scoring the films of %s", card.name, card.version, loaded.provider,
                 ", ".join(map(str, args.data)))
        result = calibrate_films(loaded, args.data, args.outcomes, n_boot=args.bootstrap or N_BOOT, seed=args.seed)
    except CxrError as error:
        log.error("%s", error)
        return 1
    for path, reason in result.skipped:
        log.warning("skipped %s: %s", path, reason)
    cal = result.calibration
    if args.threshold is not None:
        threshold, how = args.threshold, "typed"
    else:
        target = args.target_sensitivity if args.target_sensitivity is not None else DEFAULT_TARGET_SENSITIVITY
        threshold, how = cal.for_sensitivity(target), f"the highest with sensitivity >= {target:.2f}"
    marked = {"card": card_threshold, "chosen": threshold}
    if site is not None:
        marked["site now"] = site.threshold
    what = f"P({label})" if kind == "classifier" else "the TB lesion score"
    out = sys.stdout
    out.write(f"model {card.name} version {card.version}: score = {what}, a film called positive at score >= threshold\n")
    out.write(f"films: {cal.films} scored ({cal.positives} positive, {cal.films - cal.positives} negative; sample "
              f"prevalence {100 * cal.sample_prevalence:.1f} %), {len(result.skipped)} skipped\n")
    out.write(f"AUC {cal.auc:.3f} (95 % CI {cal.auc_ci[0]:.3f}-{cal.auc_ci[1]:.3f}; {cal.n_boot} stratified bootstrap "
              f"resamples, seed {cal.seed})\n")
    prevalence = args.prevalence if args.prevalence is not None else cal.sample_prevalence
    out.write(f"prevalence for PPV, NPV and per 1,000 screened: {100 * prevalence:.1f} % "
              f"({'entered' if args.prevalence is not None else 'the sample' + chr(39) + 's own'})\n")
    out.write(f"card threshold {card_threshold:.4f}: {rates(cal.at(card_threshold))}\n")
    out.write(f"site threshold now: {site.describe() if site is not None else 'none (calls at the card threshold)'}\n")
    chosen = cal.at(threshold, args.prevalence)
    out.write(f"chosen threshold {threshold:.4f} ({how}): {rates(chosen)}\n\n")
    out.write(table_text(cal.short_table(marked, args.prevalence)) + "\n")
    if cal.groups:
        out.write(f"\nby subgroup at threshold {threshold:.4f} (each group's own films):\n")
        out.write(subgroup_text(cal.subgroups(threshold)) + "\n")
    if args.out is not None:
        write_outputs(args.out, result, card, label, card_threshold, threshold, how, args.prevalence)
        out.write(f"\nwrote {args.out / 'operating_table.csv'}, scores.csv and summary.json\n")
    if args.save:
        return _save(card, label, card_threshold, threshold, cal, chosen, how, args.note)
    return 0


def _save(card, label: str, card_threshold: float, threshold: float, cal, chosen, how: str, note: str) -> int:
    from cxrviewer.analysis.calibration_text import saved_note
    from cxrviewer.core.site_settings import SiteThreshold, save_site_threshold

    setting = SiteThreshold(card.name, label, float(threshold), card_threshold, card.version, cal.films,
                            date.today().isoformat(), note or saved_note(cal, chosen, how))
    try:
        where = save_site_threshold(setting)
    except CxrError as error:
        log.error("%s", error)
        return 1
    sys.stdout.write(f"\nsaved: {card.name} ({label}): {setting.describe()}; in {where}\n")
    return 0


def write_outputs(folder: Path, result, card, label: str, card_threshold: float, threshold: float, how: str, prevalence: float | None) -> None:
    cal = result.calibration
    folder.mkdir(parents=True, exist_ok=True)
    fields = ("threshold", "true_positives", "false_negatives", "false_positives", "true_negatives", "sensitivity",
              "sensitivity_ci_low", "sensitivity_ci_high", "specificity", "specificity_ci_low", "specificity_ci_high",
              "prevalence", "ppv", "npv", "tests_per_1000", "found_per_1000", "missed_per_1000")
    with open(folder / "operating_table.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(fields)
        for p in cal.table(prevalence):
            writer.writerow([p.threshold, p.true_positives, p.false_negatives, p.false_positives, p.true_negatives,
                             p.sensitivity, *p.sensitivity_ci, p.specificity, *p.specificity_ci, p.prevalence, p.ppv,
                             p.npv, p.tests_per_1000, p.found_per_1000, p.missed_per_1000])
    with open(folder / "scores.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(("file", "outcome", "score", "age", "sex"))
        for film in result.films:
            writer.writerow((film.path, int(film.positive), film.score, "" if film.age is None else film.age,
                             film.sex or ""))
    summary = {
        "model": card.name, "version": card.version, "label": label, "films": cal.films, "positives": cal.positives,
        "negatives": cal.films - cal.positives, "sample_prevalence": cal.sample_prevalence,
        "auc": cal.auc, "auc_ci95": list(cal.auc_ci), "bootstrap": {"resamples": cal.n_boot, "seed": cal.seed},
        "card_threshold": card_threshold, "chosen": {"how": how, **_jsonable(asdict(cal.at(threshold, prevalence)))},
        "subgroups": [{"group": g.name, "films": g.positives + g.negatives, "positives": g.positives, "auc": g.auc,
                       "auc_ci95": list(g.auc_ci) if g.auc_ci else None, **_jsonable(asdict(p))}
                      for g, p in cal.subgroups(threshold)],
        "skipped": [{"file": str(path), "reason": reason} for path, reason in result.skipped],
        "date": date.today().isoformat(),
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


def _jsonable(values: dict) -> dict:
    """NaN (a rate without films) as null: JSON has no NaN."""
    def clean(v):
        if isinstance(v, float) and math.isnan(v):
            return None
        if isinstance(v, tuple):
            return [clean(x) for x in v]
        return v
    return {k: clean(v) for k, v in values.items()}
