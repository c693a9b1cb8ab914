"""Triage of one study file: the gate, every classifier and the TB lesion score, for a worklist.

The figures a reader sorts a folder by, computed for studies not on screen. The file is read again
here (with the viewer's size limit), so the pixels, and therefore the scores, are exactly those the
findings panel gets when the study is shown. One model's failure is that model's outcome; the others
still run. Maps, lungs and bone suppression are for the study on screen only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cxrviewer.analysis import pipeline
from cxrviewer.analysis.study import StudyAnalysis
from cxrviewer.core.errors import CxrError
from cxrviewer.core.io import read_image

TRIAGE_KINDS = ("gate", "finding", "lesions")


@dataclass(frozen=True)
class TriageOutcome:
    """kind: "gate", "finding" or "lesions"; model: its name; payload: GateResult, Finding or
    LesionFinding (probability map dropped to a (0, 0) array: a worklist keeps the score only), or
    None with `error` naming the model and the problem."""

    kind: str
    model: str
    payload: object | None
    error: str = ""


def triage_steps(roles: pipeline.ModelRoles) -> list[tuple[str, str]]:
    """(kind, model) for the installed models a worklist scores by, in the order they run."""
    steps = [("gate", roles.gate)] if roles.gate else []
    steps += [("finding", name) for name in roles.classifiers]
    steps += [("lesions", name) for name in roles.lesions]
    return steps


def triage_study(path: Path, roles: pipeline.ModelRoles, models_dir: Path | None = None,
                 max_megapixels: float | None = None, cancelled=lambda: False) -> list[TriageOutcome]:
    """Read `path` and run the triage steps of `roles` on it; stops early (returning what is done)
    once `cancelled()` is true. Raises StudyError when the file cannot be read."""
    image = read_image(path) if max_megapixels is None else read_image(path, max_megapixels=max_megapixels)
    study = StudyAnalysis(image.pixels, models_dir, roles=roles)
    outcomes = []
    for kind, model in triage_steps(roles):
        if cancelled():
            break
        try:
            payload = study.run(kind, model)
        except CxrError as error:
            outcomes.append(TriageOutcome(kind, model, None, str(error)))
            continue
        if kind == "lesions":  # a worklist keeps the score, not the map
            payload = pipeline.LesionFinding(payload.model, image.pixels[:0, :0], payload.score, payload.threshold,
                                             payload.positive, payload.provider, payload.seconds, label=payload.label)
        outcomes.append(TriageOutcome(kind, model, payload))
    return outcomes
