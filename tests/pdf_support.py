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
    """`text` without white space: an extractor may or may not see a space where the font changes
    (Latin to CJK), so names are compared without it."""
    return "".join(text.split())


def pdf_images(data: bytes) -> list[np.ndarray]:
    """Each image the pages draw, decoded to an array (RGB: H, W, 3)."""
    return [np.asarray(image.image.convert("RGB")) for page in pdf_reader(data).pages for image in page.images]


def pdf_fonts(data: bytes) -> dict[str, bool]:
    """Each font the pages use, by its base name without a subset tag, and whether its file is embedded."""
    fonts = {}
    for page in pdf_reader(data).pages:
        for ref in page["/Resources"].get("/Font", {}).values():
            font = ref.get_object()
            name = str(font["/BaseFont"]).lstrip("/").split("+")[-1]
            descendants = [d.get_object() for d in font.get("/DescendantFonts", [])] or [font]
            fonts[name] = all(
                any(key in d.get("/FontDescriptor", {}) for key in ("/FontFile", "/FontFile2", "/FontFile3"))
                for d in descendants)
    return fonts


def pdf_metadata(data: bytes) -> str:
    """The document information (title, creator, ...) as one string."""
    return " ".join(str(value) for value in (pdf_reader(data).metadata or {}).values())
