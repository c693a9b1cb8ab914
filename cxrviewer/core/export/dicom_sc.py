"""The composed view as a DICOM Secondary Capture (RGB) in the source study, for an archive.

A new series and instance (new UIDs) carry the source study's identifiers when the source is DICOM,
so the archive files the picture with its study. With `anonymise`, identifiers follow the spirit of
the DICOM Basic Application Level Confidentiality Profile (PS3.15 E.1): names, IDs, dates, accession
and physicians emptied or removed, the study UID replaced, no reference to the source instance.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from cxrviewer import __version__
from cxrviewer.core.export.atomic import ExportError, write_atomically
from cxrviewer.core.export.content import ExportContent

log = logging.getLogger(__name__)

# Patient and General Study modules: copied from the source unless anonymising.
PATIENT_STUDY = (
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex", "PatientAge",
    "OtherPatientIDs", "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber",
    "ReferringPhysicianName", "StudyDescription",
)
# Type 2 attributes of those modules: present (empty when unknown or anonymised) in every file.
TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "StudyID",
         "AccessionNumber", "ReferringPhysicianName")
ANONYMOUS_NAME, ANONYMOUS_ID = "Anonymous", "ANONYMOUS"
AGE = re.compile(r"^\d{3}[DWMY]$")
MAX_DERIVATION_CHARS = 1024  # ST value length


def source_header(content: ExportContent) -> Dataset | None:
    """The source file's header (no pixels) when the study is DICOM and still readable, else None."""
    meta = content.meta
    if meta is None or meta.format != "DICOM":
        return None
    try:
        return pydicom.dcmread(meta.path, stop_before_pixels=True, force=True)
    except (OSError, InvalidDicomError, ValueError) as error:
        log.warning("%s: source header unreadable (%s); using the identifiers read when it was opened",
                    meta.path, error)
        return None


def _source_study(content: ExportContent, source: Dataset | None) -> Dataset:
    """The patient and study attributes of the source (from its header, else from ImageMeta)."""
    study = Dataset()
    if source is not None:
        for keyword in PATIENT_STUDY:
            if keyword in source:
                setattr(study, keyword, source.data_element(keyword).value)
        if not AGE.match(str(study.get("PatientAge", ""))):
            study.pop("PatientAge", None)  # an age not in DICOM's nnnY form would make the file invalid
    elif content.meta is not None and content.meta.format == "DICOM":
        meta = content.meta
        for keyword, value in (("PatientName", meta.patient_name), ("PatientID", meta.patient_id),
                               ("StudyInstanceUID", meta.study_uid), ("StudyDate", meta.study_date)):
            if value:
                setattr(study, keyword, value)
    return study


def derivation_text(content: ExportContent) -> str:
    layers = ", ".join(content.layers) or "base image only"
    models = ", ".join(f"{card.name} v{card.version}" for card in content.cards) or "none"
    # The orientation goes before the lists, which are what a long text loses when it is cut.
    turned = "" if content.orientation.is_identity else f" ({orientation_comment(content)})"
    text = f"cxrviewer composed view{turned}: {layers}; models: {models}. Not for clinical use."
    return text[:MAX_DERIVATION_CHARS]


def orientation_comment(content: ExportContent) -> str:
    """Image Comments for a view the reader turned: pixels not in the acquired orientation."""
    return f"Oriented {content.orientation_note}; not the acquired orientation"


def patient_orientation(content: ExportContent, source: Dataset | None) -> list[str] | str:
    """The source's Patient Orientation carried through the reader's flips and rotation, so the
    row and column directions still name the patient's sides; empty (type 2) when unknown."""
    if source is None or "PatientOrientation" not in source:
        return ""
    value = source.PatientOrientation
    values = list(value) if isinstance(value, MultiValue) else [value]
    turned = content.orientation.patient_orientation(values)
    if turned is None:
        if not content.orientation.is_identity:
            log.warning("%s: Patient Orientation %r not understood; left empty in the turned export",
                        content.source_name, value)
            return ""
        return value
    return turned


def secondary_capture(content: ExportContent) -> Dataset:
    """content.composed (H, W, 3) uint8 as an SC Image Storage dataset (explicit VR little endian)."""
    source = source_header(content)
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.update(_source_study(content, source))
    if content.anonymise:
        _anonymise(ds)
    for keyword in TYPE2:
        if keyword not in ds:
            setattr(ds, keyword, "")
    if "StudyInstanceUID" not in ds:
        ds.StudyInstanceUID = generate_uid()

    created = content.created
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.SeriesNumber = 999
    ds.SeriesDescription = "cxrviewer composed view"
    ds.InstanceNumber = 1
    ds.Manufacturer = "cxrviewer"
    ds.ConversionType = "WSD"
    ds.SecondaryCaptureDeviceManufacturer = "cxrviewer"
    ds.SecondaryCaptureDeviceSoftwareVersions = __version__
    ds.InstanceCreationDate = ds.ContentDate = created.strftime("%Y%m%d")
    ds.InstanceCreationTime = ds.ContentTime = created.strftime("%H%M%S")
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.DerivationDescription = derivation_text(content)
    # The overlays add no text; the source's own burned-in annotation, if any, is still in the pixels.
    burned = content.burned_in or (source is not None and str(source.get("BurnedInAnnotation", "")).upper() == "YES")
    ds.BurnedInAnnotation = "YES" if burned else "NO"
    ds.PatientOrientation = patient_orientation(content, source)
    if not content.orientation.is_identity:
        ds.ImageComments = orientation_comment(content)
    if source is not None and not content.anonymise and "SOPInstanceUID" in source:
        reference = Dataset()
        reference.ReferencedSOPClassUID = source.get("SOPClassUID", "")
        reference.ReferencedSOPInstanceUID = source.SOPInstanceUID
        ds.SourceImageSequence = [reference]

    rows, columns = content.composed.shape[:2]
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = content.composed.tobytes()

    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _anonymise(ds: Dataset) -> None:
    """In place: identifiers emptied (type 2) or removed (type 3), the study UID replaced (PS3.15 E.1)."""
    for keyword in ("IssuerOfPatientID", "PatientAge", "OtherPatientIDs", "StudyDescription"):
        if keyword in ds:
            delattr(ds, keyword)
    for keyword in TYPE2:
        setattr(ds, keyword, "")
    ds.PatientName, ds.PatientID = ANONYMOUS_NAME, ANONYMOUS_ID
    ds.StudyInstanceUID = generate_uid()
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "cxrviewer: basic profile, UIDs replaced"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "113100", "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    ds.DeidentificationMethodCodeSequence = [code]


def write_secondary_capture(path: str | Path, content: ExportContent) -> Path:
    """Write the SC file atomically; ExportError names `path` when it cannot be written."""
    content.check_target(path)
    ds = secondary_capture(content)

    def write(stream) -> None:
        try:
            pydicom.dcmwrite(stream, ds, enforce_file_format=True)
        except (ValueError, TypeError) as error:
            raise ExportError(path, f"the DICOM writer refused the dataset ({error})") from error

    return write_atomically(path, write)
