"""Documents drawn with Qt's painter: the PDF report (QPdfWriter), with the fonts the program carries
(resources/fonts/) embedded, so a patient's name prints in any script they cover.

Qt is allowed here (the import rules keep it out of `core`), widgets are not needed: the command line
draws reports offscreen. No torch, no onnxruntime, no OpenCV. Where the report's parts go is decided
without Qt (`report_layout`), so Qt is imported only when a report is drawn.
"""

__all__ = ["report_pdf_bytes", "write_report_pdf"]


def __getattr__(name: str):
    if name in __all__:
        from cxrviewer.printing import report_pdf

        return getattr(report_pdf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
