"""A one-page PDF written by hand: text in the 14 standard fonts, one RGB image, filled boxes.

Why not matplotlib or Qt: the report must be written headless by `core` (no Qt), and the viewer's
base install has no matplotlib; PDF 1.4 with uncompressed page text needs ~150 lines. The text is
set in standard fonts (Helvetica, Helvetica-Bold, Courier) in WinAnsiEncoding, uncompressed, so any
reader, search and text extractor finds it; the image is stored losslessly (Flate) at its own pixel size.
"""

from __future__ import annotations

import unicodedata
import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

A4 = (595.28, 841.89)  # points
FONTS = {"regular": ("F1", "Helvetica"), "bold": ("F2", "Helvetica-Bold"), "mono": ("F3", "Courier")}
# Advance widths (1/1000 em) from Adobe's AFM files: ASCII 32..126, then the WinAnsi codes above 127
# the report may meet (quotes, bullet, dashes, Latin-1 letters and signs); a code not listed is not set.
_HELVETICA = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778,
    722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278,
    278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
)
_HELVETICA_BOLD = (
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778,
    722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333,
    278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
)
_HELVETICA_HIGH = (  # codes 161..255; 0 = not set (¤, soft hyphen, superscripts, fractions)
    333, 556, 556, 0, 556, 260, 556, 333, 737, 370, 556, 584, 0, 737, 333, 400, 584, 0, 0, 333, 556, 537,
    278, 333, 0, 365, 556, 0, 834, 0, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667,
    278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, 556, 556, 556, 556,
    556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
)
_HELVETICA_BOLD_HIGH = (
    333, 556, 556, 0, 556, 280, 556, 333, 737, 370, 556, 584, 0, 737, 333, 400, 584, 0, 0, 333, 611, 556,
    278, 333, 0, 365, 556, 0, 834, 0, 611, 722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667,
    278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, 611, 611, 611, 611,
    611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
)
_QUOTES_DASHES = {"regular": (222, 222, 333, 333, 350, 556, 1000), "bold": (278, 278, 500, 500, 350, 556, 1000)}


def _width_table(ascii_widths: tuple[int, ...], high: tuple[int, ...], quotes: tuple[int, ...]) -> dict[int, int]:
    table = {32 + i: w for i, w in enumerate(ascii_widths)}
    table.update({0x91 + i: w for i, w in enumerate(quotes)})  # ‘ ’ “ ” • – —
    table.update({161 + i: w for i, w in enumerate(high) if w})
    return table


_WIDTHS = {
    "regular": _width_table(_HELVETICA, _HELVETICA_HIGH, _QUOTES_DASHES["regular"]),
    "bold": _width_table(_HELVETICA_BOLD, _HELVETICA_BOLD_HIGH, _QUOTES_DASHES["bold"]),
}
_WIDTHS["mono"] = dict.fromkeys(_WIDTHS["regular"], 600)
# Signs the cards use that WinAnsi lacks, spelled out.
_SPELLED = {"≥": ">=", "≤": "<=", "−": "-", "→": "->", "\t": " ", "\n": " ", "\u00a0": " "}


def winansi_text(text: str) -> str:
    """`text` reduced to what the page can set in WinAnsiEncoding, as a str of those byte values
    (latin-1): known signs spelled out, letters without a glyph stripped of accents, others '?'."""
    out = []
    for char in "".join(_SPELLED.get(c, c) for c in text):
        code = char.encode("cp1252", errors="ignore")
        if len(code) == 1 and code[0] in _WIDTHS["regular"]:
            out.append(chr(code[0]))
            continue
        for part in unicodedata.normalize("NFKD", char):
            if 32 <= ord(part) < 127:
                out.append(part)
            elif not unicodedata.combining(part):
                out.append("?")
    return "".join(out)


def text_width(text: str, font: str, size: float) -> float:
    """Width in points of `winansi_text` output set in `font` ("regular", "bold", "mono") at `size`."""
    widths = _WIDTHS[font]
    return sum(widths[ord(char)] for char in text) * size / 1000.0


def _literal(text: str) -> str:
    """A PDF string literal. Balanced parentheses stay as they are (PDF allows it), so the file's
    bytes hold the text as the reader sees it; only backslashes and unpaired parentheses are escaped."""
    chars = list(text.replace("\\", "\\\\"))
    opened: list[int] = []
    for i, char in enumerate(chars):
        if char == "(":
            opened.append(i)
        elif char == ")":
            if opened:
                opened.pop()
            else:
                chars[i] = "\\)"
    for i in opened:
        chars[i] = "\\("
    return "(" + "".join(chars) + ")"


@dataclass
class PdfPage:
    """One page; coordinates in points from the bottom-left corner, as PDF has them."""

    size: tuple[float, float] = A4
    _ops: list[str] = field(default_factory=list)
    _image: npt.NDArray[np.uint8] | None = None

    def text(self, x: float, y: float, text: str, font: str = "regular", size: float = 8.0,
             rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        """Set `text` (reduced by `winansi_text`) with its baseline starting at (x, y)."""
        name = FONTS[font][0]
        colour = " ".join(f"{c:.3f}" for c in rgb)
        self._ops.append(f"BT {colour} rg /{name} {size:.2f} Tf {x:.2f} {y:.2f} Td {_literal(winansi_text(text))} Tj ET")

    def box(self, x: float, y: float, width: float, height: float, rgb: tuple[float, float, float]) -> None:
        colour = " ".join(f"{c:.3f}" for c in rgb)
        self._ops.append(f"{colour} rg {x:.2f} {y:.2f} {width:.2f} {height:.2f} re f")

    def image(self, pixels: npt.NDArray[np.uint8], x: float, y: float, width: float, height: float) -> None:
        """Place pixels (H, W, 3) uint8 RGB, stored at full resolution, in the box (x, y, width, height)."""
        if self._image is not None:
            raise ValueError("this page holds one image")
        self._image = np.ascontiguousarray(pixels, dtype=np.uint8)
        self._ops.append(f"q {width:.2f} 0 0 {height:.2f} {x:.2f} {y:.2f} cm /Im1 Do Q")

    def to_bytes(self, title: str, producer: str, created: str) -> bytes:
        """The whole file. `created` is a PDF date, e.g. "D:20261122084000Z"."""
        fonts = " ".join(f"/{tag} {5 + i} 0 R" for i, (tag, _) in enumerate(FONTS.values()))
        image_ref = "/XObject << /Im1 9 0 R >>" if self._image is not None else ""
        content = "\n".join(self._ops).encode("latin-1")
        objects: list[bytes] = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {self.size[0]:.2f} {self.size[1]:.2f}] "
             f"/Resources << /Font << {fonts} >> {image_ref} >> /Contents 4 0 R >>").encode("ascii"),
            _stream(b"", content),
        ]
        objects += [f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>".encode("ascii")
                    for _, base in FONTS.values()]
        info = f"<< /Title {_literal(winansi_text(title))} /Producer {_literal(winansi_text(producer))} /CreationDate ({created}) >>"
        objects.append(info.encode("latin-1"))
        if self._image is not None:
            height, width = self._image.shape[:2]
            header = (f"/Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceRGB "
                      "/BitsPerComponent 8 /Filter /FlateDecode").encode("ascii")
            objects.append(_stream(header, zlib.compress(self._image.tobytes(), 6)))
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii")
        out += b"".join(f"{offset:010d} 00000 n \n".encode("ascii") for offset in offsets)
        out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 8 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode("ascii")
        return bytes(out)


def _stream(header: bytes, data: bytes) -> bytes:
    return b"<< " + header + b" /Length " + str(len(data)).encode("ascii") + b" >>\nstream\n" + data + b"\nendstream"
