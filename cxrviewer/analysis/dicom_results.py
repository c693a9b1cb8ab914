"""One study file's findings and masks as `core.export.results.StudyResults`, for the structured
report and the segmentation sent back to the archive (`cxrviewer.net`).

The installed models run through the study's `analysis.study.StudyAnalysis` (the gate, every
classifier, the lesion models, the lungs), so the numbers are those the findings panel and `analyze` show. Each
probability is reported with the threshold in force (the card's, or the site's) and the call at it;
a lesion model also gives its regions (8-connected areas of the map at MASK_PROBABILITY, as boxes
with their peak) and its mask.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pydicom

from cxrviewer.analysis import pipeline
from cxrviewer.analysis.findings import operating_thresholds
from cxrviewer.analysis.installed import installed_model
from cxrviewer.analysis.pipeline import MASK_PROBABILITY
from cxrviewer.analysis.study import StudyAnalysis
from cxrviewer.core.errors import CxrError, StudyError
from cxrviewer.core.export.results import Region, ResultFinding, StudyResults
from cxrviewer.core.imageops.morphology import connected_components
from cxrviewer.core.io import read_image
from cxrviewer.core.lung_mask import LUNG_LEVEL
from cxrviewer.core.signing import UNSIGNED_TEXT

log = logging.getLogger(__name__)

SIGNED_TEXT = "signed release model"
LUNGS_LABEL = pipeline.LUNGS_LABEL


def _signature(loaded) -> str:
    return SIGNED_TEXT if loaded.trust.signed else UNSIGNED_TEXT


def _source(site) -> str:
    return "card" if site is None else site.describe()


def regions(probability: np.ndarray, level: float = MASK_PROBABILITY) -> tuple[Region, ...]:
    """probability (H, W) float32 in [0, 1] → a Region per 8-connected area at or above `level`,
    largest first."""
    labels, areas = connected_components(probability >= level)
    found = []
    for number in np.argsort(areas[1:])[::-1] + 1:
        rows, columns = np.nonzero(labels == number)
        box = (int(rows.min()), int(columns.min()), int(rows.max()) + 1, int(columns.max()) + 1)
        found.append(Region(box, float(probability[labels == number].max())))
    return tuple(found)


def _classifier_findings(loaded, finding) -> list[ResultFinding]:
    card = loaded.card
    thresholds, site = operating_thresholds(card)
    found = []
    for index, (label, probability) in enumerate(zip(finding.labels, finding.probabilities, strict=True)):
        if finding.rule == "multilabel" or (finding.rule == "threshold" and index == 1):
            threshold = float(thresholds[index])
        else:
            threshold = None  # argmax, or the binary call's other label: called when label 1 is not
        found.append(ResultFinding(card.name, card.version, _signature(loaded), label, float(probability),
                                   threshold, _source(site), index in finding.positive))
    return found


def _gate_finding(loaded, verdict) -> ResultFinding:
    card = loaded.card
    return ResultFinding(card.name, card.version, _signature(loaded), card.labels[-1], float(verdict.score),
                         float(verdict.threshold), "card", bool(verdict.accepted))


def study_results(path: Path, models_dir: Path | None = None, anonymise: bool = False) -> StudyResults:
    """Every installed model's findings and masks for the DICOM file `path`. A model that fails is
    logged and left out (the others still report); StudyError when the file cannot be read."""
    image = read_image(path)
    pixels = image.pixels
    try:
        source = pydicom.dcmread(path, force=True)
    except (OSError, ValueError, pydicom.errors.InvalidDicomError) as error:
        raise StudyError(path, f"not readable as DICOM for a result object ({error})") from None
    if (int(source.get("Rows", 0)), int(source.get("Columns", 0))) != pixels.shape:
        raise StudyError(path, f"pixels {pixels.shape} read on another grid than the file's "
                               f"{source.get('Rows')} x {source.get('Columns')}")
    roles = pipeline.model_roles(models_dir)
    findings: list[ResultFinding] = []
    masks: dict[str, np.ndarray] = {}
    steps = [("gate", roles.gate)] + [("finding", n) for n in roles.classifiers]
    steps += [("lesions", n) for n in roles.lesions] + [("lungs", roles.lungs)]
    study = StudyAnalysis(pixels, models_dir, roles=roles)
    for kind, name in steps:
        if name is None:
            continue
        try:
            loaded = study.model(name)
            payload = study.run(kind, name)
            if kind == "gate":
                findings.append(_gate_finding(loaded, payload))
            elif kind == "finding":
                findings += _classifier_findings(loaded, payload)
            elif kind == "lesions":
                findings.append(ResultFinding(payload.model, loaded.card.version, _signature(loaded), payload.label,
                                              float(payload.score), float(payload.threshold), _source(payload.site),
                                              bool(payload.positive), regions(payload.probability)))
                masks[payload.label] = payload.probability >= MASK_PROBABILITY
            else:
                masks[LUNGS_LABEL] = payload >= LUNG_LEVEL
        except CxrError as error:
            log.warning("%s: %s left out of the results: %s", path, name, error)
    return StudyResults(source, tuple(findings), masks, anonymise)


def mask_models(results: StudyResults, models_dir: Path | None = None) -> dict[str, tuple[str, str]]:
    """{mask label: (model, version)} for the segmentation's segment descriptions."""
    by_label = {f.label: (f.model, f.version) for f in results.findings}
    roles = pipeline.model_roles(models_dir)
    if roles.lungs is not None and LUNGS_LABEL in results.masks:
        card = installed_model(roles.lungs, models_dir).card
        by_label[LUNGS_LABEL] = (card.name, card.version)
    return {label: by_label[label] for label in results.masks}


def result_datasets(results: StudyResults, models_dir: Path | None = None, view=None) -> list:
    """The objects sent back for one study: the structured report, the segmentation of its masks
    (when a model drew any), and the Secondary Capture of `view` (a `core.export.ExportContent`,
    when given), all in the referenced source's study."""
    from cxrviewer.core.export import secondary_capture
    from cxrviewer.core.export.dicom_seg import segmentation
    from cxrviewer.core.export.dicom_sr import structured_report

    objects = [structured_report(results)]
    if results.masks:
        objects.append(segmentation(results, mask_models(results, models_dir)))
    if view is not None:
        capture = secondary_capture(view)
        if results.anonymise:  # the SC's own anonymising gives it a new study: put it in the results' one
            capture.StudyInstanceUID = results.referenced_source().StudyInstanceUID
        objects.append(capture)
    return objects


def study_objects(path: Path, models_dir: Path | None = None, anonymise: bool = False, view=None) -> list:
    """What goes back to the archive for the DICOM file `path`: its structured report, segmentation
    and the Secondary Capture of `view` (an ExportContent: the viewer passes what it shows; default
    the study's own view, `analysis.study_content`). The one path of `analyze --send`, `listen --send`
    and the viewer's Send results; StudyError when the file cannot be read."""
    from cxrviewer.analysis.study_content import study_content

    results = study_results(path, models_dir, anonymise)
    if not results.findings:  # a measurement report holds at least one measurement
        raise StudyError(path, "no installed model gave a finding, so there are no results to send")
    return result_datasets(results, models_dir, view if view is not None else study_content(path, models_dir, anonymise))
