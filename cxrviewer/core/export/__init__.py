"""Exports: PNG and a DICOM Secondary Capture of the current view, and what every export says
(ExportContent), optionally anonymised; and the structured results sent to a PACS (`results`, written
as an SR TID 1500 by `dicom_sr` and a Segmentation by `dicom_seg`). No Qt: the viewer and the command
line call the same functions. The PDF report is drawn with Qt's PDF writer, so it lives in
`cxrviewer.printing` (write_report_pdf), which takes the same ExportContent."""

from cxrviewer.core.export.atomic import ExportError, write_atomically
from cxrviewer.core.export.content import NOT_CLINICAL, ExportContent, Reading
from cxrviewer.core.export.dicom_sc import secondary_capture, write_secondary_capture
from cxrviewer.core.export.png import write_png

__all__ = [
    "NOT_CLINICAL",
    "ExportContent",
    "ExportError",
    "Reading",
    "secondary_capture",
    "write_atomically",
    "write_png",
    "write_secondary_capture",
]
