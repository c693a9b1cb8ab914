"""Exports of the current view: PNG, a one-page PDF report, a DICOM Secondary Capture; optionally
anonymised. No Qt: the viewer and the command line call the same functions."""

from cxrviewer.core.export.atomic import ExportError, write_atomically
from cxrviewer.core.export.content import NOT_CLINICAL, ExportContent, Reading
from cxrviewer.core.export.dicom_sc import secondary_capture, write_secondary_capture
from cxrviewer.core.export.png import write_png
from cxrviewer.core.export.report_pdf import report_pdf_bytes, write_report_pdf

__all__ = [
    "NOT_CLINICAL",
    "ExportContent",
    "ExportError",
    "Reading",
    "report_pdf_bytes",
    "secondary_capture",
    "write_atomically",
    "write_png",
    "write_report_pdf",
    "write_secondary_capture",
]
