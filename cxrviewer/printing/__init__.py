"""Documents drawn with Qt's painter: the one-page PDF report (QPdfWriter), with the fonts the
program carries (resources/fonts/) embedded, so a patient's name prints in any script they cover.

Qt is allowed here (the import rules keep it out of `core`), widgets are not needed: the command line
draws reports offscreen. No torch, no onnxruntime, no OpenCV.
"""

from cxrviewer.printing.report_pdf import report_pdf_bytes, write_report_pdf

__all__ = ["report_pdf_bytes", "write_report_pdf"]
