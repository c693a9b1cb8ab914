"""The findings as a DICOM Comprehensive SR holding a TID 1500 Measurement Report (highdicom): one
measurement group per model label (probability, operating threshold, the call; the model's name,
version, signature status and threshold source as its algorithm identification), and one planar ROI
group per region of a localising model, each referencing the source image."""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from cxrviewer import __version__
from cxrviewer.core.export.results import Region, ResultFinding, StudyResults

SCHEME = "99CXRV"  # the project's private coding scheme for its labels and figures
PROBABILITY = hd.sr.CodedConcept("PROB", SCHEME, "Model probability")
THRESHOLD = hd.sr.CodedConcept("THRESH", SCHEME, "Operating threshold")
PEAK = hd.sr.CodedConcept("PEAK", SCHEME, "Peak probability in region")
CALLED = hd.sr.CodedConcept("CALL", SCHEME, "Called at the operating threshold")
NO_UNITS = hd.sr.CodedConcept("1", "UCUM", "no units")
CHEST_XRAY = hd.sr.CodedConcept("399208008", "SCT", "Plain chest X-ray")
SERIES_NUMBER = 997


def label_concept(label: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(label[:16], SCHEME, label)


def _algorithm(finding: ResultFinding) -> hd.sr.AlgorithmIdentification:
    threshold = "none (argmax)" if finding.threshold is None else f"{finding.threshold:.6g} ({finding.threshold_source})"
    return hd.sr.AlgorithmIdentification(finding.model, finding.version,
                                         parameters=[f"signature: {finding.signature}", f"threshold: {threshold}"])


def _measurements(finding: ResultFinding) -> list[hd.sr.Measurement]:
    algorithm = _algorithm(finding)
    said = [hd.sr.Measurement(PROBABILITY, finding.probability, NO_UNITS, algorithm_id=algorithm)]
    if finding.threshold is not None:
        said.append(hd.sr.Measurement(THRESHOLD, finding.threshold, NO_UNITS, algorithm_id=algorithm))
    return said


def _call(finding: ResultFinding) -> list[hd.sr.QualitativeEvaluation]:
    return [hd.sr.QualitativeEvaluation(CALLED, codes.SCT.Yes if finding.called else codes.SCT.No)]


def _tracking(finding: ResultFinding, suffix: str = "") -> hd.sr.TrackingIdentifier:
    return hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=f"{finding.model} {finding.label}{suffix}")


def _region_group(finding: ResultFinding, region: Region, number: int, source: Dataset):
    y0, x0, y1, x1 = region.box
    outline = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], dtype=np.float32)
    image_region = hd.sr.ImageRegion(hd.sr.GraphicTypeValues.POLYLINE, outline,
                                     hd.sr.SourceImageForRegion.from_source_image(source))
    peak = hd.sr.Measurement(PEAK, region.peak, NO_UNITS, algorithm_id=_algorithm(finding))
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        _tracking(finding, f" region {number}"), referenced_region=image_region,
        finding_type=label_concept(finding.label), measurements=[peak])


def structured_report(results: StudyResults) -> Dataset:
    """The SR dataset (explicit VR little endian) in the source's study (anonymised on request)."""
    source = results.referenced_source()
    groups = []
    for finding in results.findings:
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            _tracking(finding), finding_type=label_concept(finding.label), measurements=_measurements(finding),
            qualitative_evaluations=_call(finding),
            source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)]))
        groups += [_region_group(finding, region, n, source) for n, region in enumerate(finding.regions, start=1)]
    device = hd.sr.ObserverContext(codes.DCM.Device, hd.sr.DeviceObserverIdentifyingAttributes(
        uid=generate_uid(), name="cxrviewer", manufacturer_name="cxrviewer", model_name=__version__))
    report = hd.sr.MeasurementReport(hd.sr.ObservationContext(observer_device_context=device), CHEST_XRAY,
                                     imaging_measurements=groups)
    sr = hd.sr.ComprehensiveSR([source], report, series_instance_uid=generate_uid(), series_number=SERIES_NUMBER,
                               sop_instance_uid=generate_uid(), instance_number=1, manufacturer="cxrviewer",
                               is_complete=True, series_description="cxrviewer findings (not for clinical use)")
    return sr


def read_findings(sr: Dataset) -> dict[tuple[str, str], dict[str, float | bool]]:
    """{(model, label): {"probability", "threshold"?, "called"}} from an SR `structured_report` wrote
    (read back through highdicom: what another viewer sees)."""
    parsed = hd.sr.ComprehensiveSR.from_dataset(sr)
    found: dict[tuple[str, str], dict[str, float | bool]] = {}
    for group in parsed.content.get_image_measurement_groups():
        model, _, label = group.tracking_identifier.partition(" ")
        values: dict[str, float | bool] = {}
        for measurement in group.get_measurements():
            key = {"PROB": "probability", "THRESH": "threshold"}.get(measurement.name.value)
            if key:
                values[key] = float(measurement.value)
        for evaluation in group.get_qualitative_evaluations():
            if evaluation.name.value == CALLED.value:
                values["called"] = evaluation.value == codes.SCT.Yes
        found[(model, label)] = values
    return found
