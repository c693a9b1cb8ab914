"""Reading a report PDF with pypdf, a parser independent of the writer (Qt's): its pages, its text as
a text extractor or a reader's search finds it, its images and the fonts it embeds."""

from __future__ import annotations

import io

import numpy as np
from pypdf import PdfReader


def pdf_reader(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data), strict=True)


def pdf_pages(data: bytes) -> int:
    return len(pdf_reader(data).pages)


def pdf_text(data: bytes) -> str:
    """Every page's text, each run of white space (between words, at a line's end) one space."""
    return " ".join(" ".join(page.extract_text().split()) for page in pdf_reader(data).pages)


def compact(text: str) -> str:
    """`text` without white space. pypdf guesses spaces from glyph positions and sees some that are
    not there (where the font changes, Latin to CJK; inside some words in the mono font; "16 d7f894"
    for "16d7f894"), where poppler's pdftotext reads the same files right; so names, identifiers and
    checksums are compared without white space."""
    return "".join(text.split())


def pdf_images(data: bytes) -> list[np.ndarray]:
    """Each image the pages draw, decoded to an array (RGB: H, W, 3)."""
    return [np.asarray(image.image.convert("RGB")) for page in pdf_reader(data).pages for image in page.images]


def pdf_fonts(data: bytes) -> dict[str, bool]:
    """Each font the pages use, by its base name without a subset tag, and whether its file is embedded."""
    return {name: size > 0 for name, size in pdf_font_sizes(data).items()}


def pdf_font_sizes(data: bytes) -> dict[str, int]:
    """Each font the pages use, by its base name without a subset tag, and the bytes of the font
    program embedded for it (0: not embedded)."""
    fonts = {}
    for page in pdf_reader(data).pages:
        for ref in page["/Resources"].get("/Font", {}).values():
            font = ref.get_object()
            name = str(font["/BaseFont"]).lstrip("/").split("+")[-1]
            size = 0
            for descendant in [d.get_object() for d in font.get("/DescendantFonts", [])] or [font]:
                descriptor = descendant.get("/FontDescriptor")
                descriptor = descriptor.get_object() if descriptor is not None else {}
                files = [descriptor[key] for key in ("/FontFile", "/FontFile2", "/FontFile3") if key in descriptor]
                size += sum(len(file.get_object().get_data()) for file in files)
            fonts[name] = size
    return fonts


def pdf_metadata(data: bytes) -> str:
    """The document information (title, creator, ...) as one string."""
    return " ".join(str(value) for value in (pdf_reader(data).metadata or {}).values())


def pdf_page_text(data: bytes, page: int) -> str:
    """One page's text (0 is the first), white space as in `pdf_text`."""
    return " ".join(pdf_reader(data).pages[page].extract_text().split())


def pdf_text_sizes(data: bytes, page: int) -> list[tuple[str, float]]:
    """(text, size in points) of each text run on a page as a viewer sets it: the font size of the
    text operation times the scale of its text and current transformation matrices."""
    runs = []

    def visit(text, cm, tm, _font, size):
        if text.strip():
            a = tm[0] * cm[0] + tm[1] * cm[2]
            b = tm[0] * cm[1] + tm[1] * cm[3]
            c = tm[2] * cm[0] + tm[3] * cm[2]
            d = tm[2] * cm[1] + tm[3] * cm[3]
            runs.append((" ".join(text.split()), size * abs(a * d - b * c) ** 0.5))

    pdf_reader(data).pages[page].extract_text(visitor_text=visit)
    return runs
