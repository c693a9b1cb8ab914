"""A site's films with confirmed outcomes, read from its outcomes CSV and scored by an installed model.

The outcomes CSV (UTF-8, a header row; other columns are ignored):

    file,outcome,age,sex
    tb/0001.dcm,tb,45,F
    normal/0002.png,normal,,

- `file`: the film, relative to a DATA folder given beside the CSV (or to a DATA file's folder), or
  absolute. Each must be one of the films found in DATA, listed once.
- `outcome`: the confirmed outcome: positive as `1`, `tb`, `positive`, `pos`, `yes`, `true` or the
  model's positive label; negative as `0`, `normal`, `negative`, `neg`, `no`, `false` or its other label.
- `age` (optional): years (`45`, `2.5`) or a DICOM age (`045Y`, `006M`). `sex` (optional): `M`/`F`/`O`
  or `male`/`female`/`other`. Either may be empty; where the CSV has none, a DICOM film's Patient's
  Age (0010,1010) and Patient's Sex (0010,0040) are used.

Every problem is reported at once, each naming the CSV's line: bad rows, files listed but missing,
films in DATA the CSV does not list. A film is scored through the viewer's own steps on the model
the caller loaded with `analysis.installed.installed_model`: a two-label classifier's P(label[1]) from
`pipeline.classify`, the TB lesion model's image score from `pipeline.lesion_finding`. Those steps
also call at the threshold in force, so a site threshold made for another version of the model is
refused before scoring, with how to remove it. Unreadable films are skipped with the reason. Qt-free.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cxrviewer.analysis.calibration import N_BOOT, Calibration, calibrate
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.errors import ConfigError, CxrError, ModelError, StudyError
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.suitability import parse_age, patient_age
from cxrviewer.runtime.backend import LoadedModel

POSITIVE_WORDS = ("1", "tb", "positive", "pos", "yes", "true")
NEGATIVE_WORDS = ("0", "normal", "negative", "neg", "no", "false")
SEX_WORDS = {"m": "M", "male": "M", "f": "F", "female": "F", "o": "O", "other": "O"}
PATIENT_SEX_TAG = "(0010,0040)"
MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class Outcome:
    """One film of the CSV: its path (resolved), its confirmed outcome, the CSV's line, and the age
    (years) and sex ("M"/"F"/"O") the CSV gives (None where it gives none)."""

    path: Path
    positive: bool
    line: int
    age: float | None = None
    sex: str | None = None


@dataclass(frozen=True)
class ScoredFilm:
    """A film the model scored: score in [0, 1] (the label's probability or the lesion score), and the
    age and sex from the CSV or else the DICOM header (None when neither has them)."""

    path: Path
    positive: bool
    score: float
    age: float | None
    sex: str | None


def calibration_kind(card: ModelCard) -> str:
    """"classifier" (two labels: P(label[1]) is the score) or "lesions" (the TB lesion model's image
    score); ModelError for a model with no single score a site threshold could call."""
    from cxrviewer.analysis.pipeline import role_of

    role = role_of(card)
    if role == "classifier" and card.task == "classification" and len(card.labels) == 2:
        return "classifier"
    if role == "lesions" and card.thresholds:
        return "lesions"
    raise ModelError(card.name, f"a {card.task} model with labels {list(card.labels)} gives no single score a site "
                                "threshold could call; calibrate a two-label classifier or the TB lesion model")


def read_outcomes(csv_path: Path, data: Sequence[Path], films: Sequence[Path], card: ModelCard) -> list[Outcome]:
    """The CSV's rows matched to `films` (the image files found in `data`, e.g. by `scan_studies`).
    Raises ConfigError listing every bad row, missing file and unlisted film."""
    csv_path = Path(csv_path)
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as stream:
            rows = list(_rows(csv_path, stream))
    except OSError as error:
        raise ConfigError(f"outcomes {csv_path}: not readable ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"outcomes {csv_path}: not UTF-8 text; save it as CSV (UTF-8)") from None
    known = {Path(f).resolve(): Path(f) for f in films}
    bases = [Path(d).resolve() if Path(d).is_dir() else Path(d).resolve().parent for d in data]
    # A two-label classifier's own labels name the outcomes too ("pneumonia", "normal").
    labels = [label.lower() for label in card.labels] if len(card.labels) == 2 else ["", ""]
    positive_words = {*POSITIVE_WORDS, labels[1]} - {""}
    negative_words = {*NEGATIVE_WORDS, labels[0]} - {""}
    problems: list[str] = []
    outcomes: dict[Path, Outcome] = {}
    for line, row in rows:
        where = f"{csv_path} line {line}"
        name, word = row.get("file", "").strip(), row.get("outcome", "").strip().lower()
        if not name:
            problems.append(f"{where}: no file named")
            continue
        if word in positive_words:
            positive = True
        elif word in negative_words:
            positive = False
        else:
            problems.append(f"{where}: outcome {row.get('outcome', '')!r} for {name} is neither positive "
                            f"({', '.join(sorted(positive_words))}) nor negative ({', '.join(sorted(negative_words))})")
            continue
        try:
            age, sex = _age(row.get("age", "")), _sex(row.get("sex", ""))
        except ValueError as error:
            problems.append(f"{where}: {name}: {error}")
            continue
        path = _match(name, bases, known)
        if path is None:
            candidates = [Path(name)] if Path(name).is_absolute() else [b / name for b in bases]
            exists = [c for c in candidates if c.exists()]
            problems.append(f"{where}: {name} " + ("is not among the image files found in " + ", ".join(map(str, data))
                                                   if exists else "does not exist"))
            continue
        if path in outcomes:
            problems.append(f"{where}: {name} is listed again (first on line {outcomes[path].line})")
            continue
        outcomes[path] = Outcome(path, positive, line, age, sex)
    unlisted = [known[p] for p in known if p not in outcomes]
    problems += [f"{csv_path}: film {film} is in DATA but not in the CSV (list its outcome, or leave it out of DATA)"
                 for film in unlisted]
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = f"\n  … and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise ConfigError(f"outcomes {csv_path}: {len(problems)} problem(s):\n  " + "\n  ".join(shown) + more)
    if not outcomes:
        raise ConfigError(f"outcomes {csv_path}: lists no films")
    return list(outcomes.values())


def _rows(csv_path: Path, stream) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise ConfigError(f"outcomes {csv_path}: empty; it needs a header row with columns file,outcome")
    columns = [h.strip().lower() for h in header]
    missing = [c for c in ("file", "outcome") if c not in columns]
    if missing:
        raise ConfigError(f"outcomes {csv_path} line 1: no column {' or '.join(missing)} in the header "
                          f"({', '.join(header)}); it needs file,outcome and may have age,sex")
    found = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        found.append((reader.line_num, dict(zip(columns, values, strict=False))))
    return found


def _match(name: str, bases: list[Path], known: dict[Path, Path]) -> Path | None:
    candidates = [Path(name)] if Path(name).is_absolute() else [b / name for b in bases]
    for candidate in candidates:
        resolved = candidate.resolve()
        if resolved in known:
            return resolved
    return None


def _age(text: str) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    dicom_age = parse_age(text)
    if dicom_age is not None:
        return dicom_age.years
    try:
        years = float(text)
    except ValueError:
        raise ValueError(f"age {text!r} is neither years nor a DICOM age such as 045Y") from None
    if not 0 <= years <= 130 or math.isnan(years):
        raise ValueError(f"age {text!r} is not an age in years")
    return years


def _sex(text: str) -> str | None:
    text = (text or "").strip().lower()
    if not text:
        return None
    if text not in SEX_WORDS:
        raise ValueError(f"sex {text!r} is not M, F or O (male, female, other)")
    return SEX_WORDS[text]


def header_age_sex(meta: ImageMeta) -> tuple[float | None, str | None]:
    """Patient's Age in years and Patient's Sex ("M"/"F"/"O") from a DICOM header; None where absent."""
    age = patient_age(meta)
    sex = SEX_WORDS.get(meta.tag_value(PATIENT_SEX_TAG).lower()) or None
    return (age.years if age is not None else None), sex


def film_score(loaded: LoadedModel, pixels) -> float:
    """pixels (H, W) float32 [0, 1], air dark → the score a site threshold calls, in [0, 1], through the
    viewer's own steps: a classifier's P(label[1]) (`pipeline.classify`), the lesion model's image
    score (`pipeline.lesion_finding`)."""
    from cxrviewer.analysis import pipeline

    if calibration_kind(loaded.card) == "classifier":
        return float(pipeline.classify(loaded, pixels).probabilities[1])
    return float(pipeline.lesion_finding(loaded, pixels).score)


def check_site_setting(card: ModelCard) -> None:
    """The viewer's steps call at the threshold in force: a site threshold made for another version
    of the model (or a damaged settings file) stops them, so say so before scoring, with the way out."""
    from cxrviewer.analysis.findings import operating_thresholds

    try:
        operating_thresholds(card)
    except ModelError as error:
        raise ModelError(card.name, f"{error.problem}. Remove it before calibrating this version "
                                    f"(cxrviewer site clear --model {card.name}, or Remove site threshold in the "
                                    "dialog)") from None


class Cancelled(CxrError):
    """Scoring was stopped by its caller."""

    def __init__(self) -> None:
        super().__init__("calibration cancelled")


def score_films(loaded: LoadedModel, outcomes: Sequence[Outcome], *,
                progress: Callable[[int, int, Path], None] | None = None,
                cancelled: Callable[[], bool] | None = None) -> tuple[list[ScoredFilm], list[tuple[Path, str]]]:
    """(the films scored, (path, reason) for each film skipped), in the CSV's order.

    progress(done, total, path) is called after each film; cancelled() is asked before each film, and
    True raises Cancelled.
    """
    from cxrviewer.core.io import read_image

    calibration_kind(loaded.card)
    scored: list[ScoredFilm] = []
    skipped: list[tuple[Path, str]] = []
    for done, outcome in enumerate(outcomes, start=1):
        if cancelled is not None and cancelled():
            raise Cancelled()
        try:
            image = read_image(outcome.path)
            score = film_score(loaded, image.pixels)
        except CxrError as error:
            skipped.append((outcome.path, error.problem if isinstance(error, StudyError) else str(error)))
        else:
            age, sex = header_age_sex(image.meta)
            scored.append(ScoredFilm(outcome.path, outcome.positive, score,
                                     outcome.age if outcome.age is not None else age,
                                     outcome.sex if outcome.sex is not None else sex))
        if progress is not None:
            progress(done, len(outcomes), outcome.path)
    return scored, skipped


@dataclass(frozen=True, eq=False)
class SiteCalibration:
    """A model calibrated on a site's films: the maths (`analysis.calibration.Calibration`) over the
    films scored, and every film left out with the reason (not an image, unreadable, ...)."""

    calibration: Calibration
    films: tuple[ScoredFilm, ...]
    skipped: tuple[tuple[Path, str], ...]


def _both_outcomes(where: str, positives: int, total: int) -> None:
    if positives == 0 or positives == total:
        missing = "positive" if positives == 0 else "negative"
        raise ConfigError(f"{where}: all {total} films are {'negative' if positives == 0 else 'positive'}, no "
                          f"{missing} film: an ROC needs both, so no threshold can be calibrated on them")


def calibrate_films(loaded: LoadedModel, data: Sequence[Path], outcomes_csv: Path, *, n_boot: int = N_BOOT,
                    seed: int = 0, progress: Callable[[int, int, Path], None] | None = None,
                    cancelled: Callable[[], bool] | None = None) -> SiteCalibration:
    """The films in `data` (files and folders, as `cxrviewer analyze` finds them) with their outcomes
    from `outcomes_csv`, scored by `loaded` and calibrated. ConfigError for the CSV's problems and for
    a set without positives or negatives (before and after scoring); Cancelled when stopped."""
    from cxrviewer.core.io import scan_studies

    calibration_kind(loaded.card)
    check_site_setting(loaded.card)
    scan = scan_studies(data)
    outcomes = read_outcomes(outcomes_csv, data, scan.studies, loaded.card)
    _both_outcomes(f"outcomes {outcomes_csv}", sum(o.positive for o in outcomes), len(outcomes))
    scored, skipped = score_films(loaded, outcomes, progress=progress, cancelled=cancelled)
    if not scored:
        path, reason = skipped[0]
        raise ConfigError(f"model {loaded.card.name}: none of the {len(outcomes)} films could be scored (the first, "
                          f"{path}: {reason})")
    _both_outcomes(f"the {len(scored)} films scored ({len(skipped)} skipped)", sum(f.positive for f in scored),
                   len(scored))
    calibration = calibrate([f.positive for f in scored], [f.score for f in scored], ages=[f.age for f in scored],
                            sexes=[f.sex for f in scored], n_boot=n_boot, seed=seed)
    return SiteCalibration(calibration, tuple(scored), tuple([*scan.skipped, *skipped]))


def calibratable_models(models_dir: Path | None = None) -> list[str]:
    """The installed models a site can calibrate (`calibration_kind`), by name, from their cards (files
    not verified here: loading the model does that). Unreadable cards are left out."""
    from cxrviewer import paths
    from cxrviewer.core.cards import card_path, load_card
    from cxrviewer.runtime.registry import installed_models

    folder = Path(models_dir) if models_dir is not None else paths.models_dir()
    names = []
    for name in installed_models(folder):
        try:
            calibration_kind(load_card(card_path(folder, name), verify_files=False))
        except (OSError, CxrError):
            continue
        names.append(name)
    return names
