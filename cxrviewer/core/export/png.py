"""The composed view as a PNG on the study's own pixel grid, turned as the reader turned it (not a
screen grab: the whole image at one pixel per image pixel, whatever the zoom), with the legend of
the layers drawn over it in a strip below (`legend_strip`; none when no layer is drawn)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image as PilImage
from PIL.PngImagePlugin import PngInfo

from cxrviewer.core.export.atomic import ExportError, write_atomically
from cxrviewer.core.export.content import SOFTWARE, ExportContent
from cxrviewer.core.export.legend_strip import with_legend


def png_text(content: ExportContent) -> dict[str, str]:
    """The PNG's text chunks: what the picture is, and the study's identifiers unless anonymising."""
    text = {
        "Software": SOFTWARE,
        "Creation Time": content.created.isoformat(timespec="seconds"),
        "Description": "composed view: " + (", ".join(content.layers) or "base image only"),
        "Disclaimer": "Research tool, not for clinical use.",
        "Source": content.source_name,
        "Orientation": content.orientation_note,
    }
    if content.legends:
        rows = content.composed.shape[0]
        text["Legend"] = (f"rows {rows} and below: " + "; ".join(
            f"{legend.title} ({legend.colormap}, {legend.low} to {legend.high}, {legend.threshold})"
            for legend in content.legends))
    meta = content.meta
    if meta is not None and not content.anonymise:
        identifiers = {"Patient ID": meta.patient_id, "Patient Name": meta.patient_name,
                       "Study Instance UID": meta.study_uid, "Study Date": meta.study_date}
        text.update({key: value for key, value in identifiers.items() if value})
    return text


def write_png(path: str | Path, content: ExportContent) -> Path:
    """Write content.composed (H, W, 3) uint8 as an 8-bit RGB PNG, with the legend strip below it
    when layers are drawn, atomically; ExportError on failure."""
    content.check_target(path)
    info = PngInfo()
    for key, value in png_text(content).items():
        info.add_itxt(key, value)
    picture = PilImage.fromarray(with_legend(content.composed, content.legends))

    def write(stream) -> None:
        try:
            picture.save(stream, format="PNG", pnginfo=info, compress_level=6)
        except ValueError as error:  # Pillow's encoder errors are ValueErrors, not OSErrors
            raise ExportError(path, f"the PNG encoder failed ({error})") from error

    return write_atomically(path, write)
