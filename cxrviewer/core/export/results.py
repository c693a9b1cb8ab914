"""What the DICOM result objects (structured report, segmentation) carry: each model's findings and
masks for one source instance, as plain values. Filled by `analysis.dicom_results`; written by
`dicom_sr` and `dicom_seg`; sent by `cxrviewer.net`."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from cxrviewer.core.export.dicom_sc import TYPE2, _anonymise

# Identifying attributes beyond the patient/study modules that an anonymised result leaves out.
MORE_IDENTIFIERS = ("InstitutionName", "InstitutionAddress", "OperatorsName", "PerformingPhysicianName",
                    "OtherPatientNames", "PatientAddress", "PatientTelephoneNumbers", "DeviceSerialNumber",
                    "StationName", "RequestingPhysician", "InstitutionalDepartmentName", "SeriesDate",
                    "AcquisitionDate", "ContentDate", "SeriesTime", "AcquisitionTime", "ContentTime")


@dataclass(frozen=True)
class Region:
    """A region a localising model marks: box (y0, x0, y1, x1) in source pixels, end exclusive;
    peak: the model's highest probability inside it, in [0, 1]."""

    box: tuple[int, int, int, int]
    peak: float


@dataclass(frozen=True)
class ResultFinding:
    """One label of one model on the study.

    probability: the score the call is made on, in [0, 1]; threshold: the operating threshold in
    force (None for an argmax call), and `threshold_source` says whose ("card" or the site's setting
    in words); called: the decision at it. signature: the model's trust in words.
    """

    model: str
    version: str
    signature: str
    label: str
    probability: float
    threshold: float | None
    threshold_source: str
    called: bool
    regions: tuple[Region, ...] = ()


@dataclass(frozen=True, eq=False)
class StudyResults:
    """source: the analysed instance, whole (pixels included: a segmentation describes its grid).
    masks: {label: (H, W) bool} on the source's pixel grid (lungs, lesions)."""

    source: Dataset
    findings: tuple[ResultFinding, ...]
    masks: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict)
    anonymise: bool = False

    def referenced_source(self) -> Dataset:
        """The source as the results reference it: a copy with the patient and study modules' type 2
        attributes present (empty when the source lacks them), anonymised on request (identifiers
        emptied, study, series and instance UIDs replaced, so nothing links back to the patient)."""
        cached = self.__dict__.get("_referenced")
        if cached is None:
            cached = copy.deepcopy(self.source)
            if self.anonymise:
                _anonymise(cached)
                for keyword in MORE_IDENTIFIERS:
                    if keyword in cached:
                        delattr(cached, keyword)
                cached.SeriesInstanceUID = generate_uid()
                cached.SOPInstanceUID = generate_uid()
                cached.file_meta.MediaStorageSOPInstanceUID = cached.SOPInstanceUID
            for keyword in TYPE2:
                if keyword not in cached:
                    setattr(cached, keyword, "")
            self.__dict__["_referenced"] = cached
        return cached
