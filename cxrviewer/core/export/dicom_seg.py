"""The lung and lesion masks as a binary DICOM Segmentation (highdicom) of the source image, one
segment per mask, each naming the model that drew it."""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from cxrviewer import __version__
from cxrviewer.core.export.results import StudyResults

SERIES_NUMBER = 998
# What each mask is, in SNOMED CT: (category, property type).
PROPERTIES = {
    "lungs": (codes.SCT.Organ, codes.SCT.Lung),
}
LESION = (codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Lesion)


def segmentation(results: StudyResults, models: dict[str, tuple[str, str]]) -> Dataset:
    """results.masks as segments, in the order given; `models`: {label: (model name, version)}.
    ValueError when there is no mask or one is not on the source's grid."""
    source = results.referenced_source()
    labels = list(results.masks)
    if not labels:
        raise ValueError("no mask to put in a segmentation")
    shape = (int(source.Rows), int(source.Columns))
    for label in labels:
        if results.masks[label].shape != shape:
            raise ValueError(f"mask {label!r} is {results.masks[label].shape}, the source image is {shape}")
    stack = np.stack([results.masks[label].astype(bool) for label in labels], axis=-1)[None]
    descriptions = []
    for number, label in enumerate(labels, start=1):
        category, kind = PROPERTIES.get(label, LESION)
        model, version = models[label]
        algorithm = hd.AlgorithmIdentificationSequence(model, codes.DCM.ArtificialIntelligence, version)
        descriptions.append(hd.seg.SegmentDescription(number, label, category, kind,
                                                      hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm))
    return hd.seg.Segmentation(
        [source], stack, hd.seg.SegmentationTypeValues.BINARY, descriptions, generate_uid(), SERIES_NUMBER,
        generate_uid(), 1, "cxrviewer", "cxrviewer", __version__, "0", omit_empty_frames=False,
        series_description="cxrviewer lungs and lesions (not for clinical use)")


def read_masks(seg: Dataset) -> dict[str, np.ndarray]:
    """{segment label: (H, W) bool} of a single-image binary segmentation, read with pydicom from the
    frames and their per-frame segment numbers (highdicom's reader needs pixel measures, which a
    radiograph without pixel spacing does not give)."""
    labels = {int(item.SegmentNumber): str(item.SegmentLabel) for item in seg.SegmentSequence}
    frames = np.asarray(seg.pixel_array).astype(bool)
    if frames.ndim == 2:
        frames = frames[None]
    masks = {}
    for frame, item in zip(frames, seg.PerFrameFunctionalGroupsSequence, strict=True):
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        masks[labels[number]] = masks.get(labels[number], np.zeros_like(frame)) | frame
    return masks
