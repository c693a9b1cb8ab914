"""The study report as a PDF, drawn with Qt's painter (QPdfWriter) in the fonts the program carries
(resources/fonts/), embedded, so a patient's name prints in any script they cover. It takes the
same `core.export.ExportContent` as every other export.

Qt is allowed here (the import rules keep it out of `core`), widgets are not needed: the command line
draws reports offscreen. No torch, no onnxruntime, no OpenCV.
"""

from cxrviewer.printing.report_pdf import report_pdf_bytes, write_report_pdf

__all__ = ["report_pdf_bytes", "write_report_pdf"]
