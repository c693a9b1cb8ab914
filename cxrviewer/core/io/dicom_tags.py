"""A flat, readable listing of a DICOM dataset for the viewer's tag browser."""

from __future__ import annotations

from pydicom.dataset import Dataset

Row = tuple[str, str, str, str]  # (tag, name, VR, value)

_MAX_VALUE_CHARS = 200
_PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}


def flatten_tags(ds: Dataset) -> tuple[Row, ...]:
    """Every element of the file meta and the dataset, sequences flattened with a path.

    Nested elements are named `Parent Sequence[1] > Child Name` (items counted from 1). Pixel data
    and other binary values are summarised by their length; long texts are cut at 200 characters.
    A value that cannot be decoded is listed as `<unreadable: reason>` rather than hidden.
    """
    rows: list[Row] = []
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        _walk(meta, "", rows)
    _walk(ds, "", rows)
    return tuple(rows)


def _walk(ds: Dataset, prefix: str, rows: list[Row]) -> None:
    for tag in ds.keys():
        tag_text = f"({tag.group:04X},{tag.element:04X})"
        try:
            element = ds[tag]
        except Exception as error:  # a malformed value must not hide the rest of the listing
            rows.append((tag_text, prefix + "?", "", f"<unreadable: {error}>"))
            continue
        name = prefix + (element.name or element.keyword or "Unknown")
        vr = str(element.VR)
        if vr == "SQ":
            items = element.value or []
            rows.append((tag_text, name, vr, f"{len(items)} item(s)"))
            for number, item in enumerate(items, start=1):
                _walk(item, f"{name}[{number}] > ", rows)
            continue
        rows.append((tag_text, name, vr, _value_text(tag, element.value)))


def _value_text(tag: int, value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        what = "pixel data" if int(tag) in _PIXEL_TAGS else "binary data"
        return f"<{len(value)} bytes of {what}>"
    if value is None:
        return ""
    text = str(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[:_MAX_VALUE_CHARS] + f"… ({len(text)} characters)"
    return text
