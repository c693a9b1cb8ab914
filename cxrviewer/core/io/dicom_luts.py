"""The grey-scale LUT attributes of a DICOM dataset, read into plain values.

Modality LUT (rescale or LUT sequence) is applied here; the VOI presets and LUT tables are parsed
into `WindowPreset` / `VoiLut` so `core.display.voi` can apply them now and whenever the reader
re-windows. Problems with optional attributes become notes for the reader, not failures: the image
is still shown, with the fallback named.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from cxrviewer.core.display.voi import VOI_FUNCTIONS
from cxrviewer.core.image import VoiLut, WindowPreset

log = logging.getLogger(__name__)


def apply_modality_lut(
    stored: npt.NDArray[np.integer], ds: Dataset, notes: list[str]
) -> npt.NDArray[np.float32]:
    """Stored values (H, W) of any integer dtype → modality values (H, W) float32 (PS3.3 C.11.1).

    A Modality LUT Sequence wins over Rescale Slope/Intercept (the standard makes them exclusive).
    """
    sequence = ds.get("ModalityLUTSequence")
    if sequence:
        first_mapped, table, _ = lut_from_item(sequence[0], signed=bool(ds.get("PixelRepresentation", 0)))
        index = np.clip(stored.astype(np.int64) - first_mapped, 0, table.size - 1)
        notes.append(f"modality LUT sequence applied ({table.size} entries)")
        return table.astype(np.float32)[index]
    slope = _float_or(ds.get("RescaleSlope"), 1.0)
    intercept = _float_or(ds.get("RescaleIntercept"), 0.0)
    values = stored.astype(np.float32)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    return values


def window_presets(ds: Dataset, notes: list[str]) -> tuple[WindowPreset, ...]:
    """Every (Window Center, Window Width) pair, named by its explanation, in file order.

    A pair whose width the VOI LUT Function forbids is dropped with a note.
    """
    centers = _floats(ds.get("WindowCenter"))
    widths = _floats(ds.get("WindowWidth"))
    if not centers and not widths:
        return ()
    if len(centers) != len(widths):
        notes.append(f"{len(centers)} window centres but {len(widths)} widths; unpaired values ignored")
    function = str(ds.get("VOILUTFunction", "") or "LINEAR").strip().upper()
    if function not in VOI_FUNCTIONS:
        notes.append(f"unknown VOI LUT Function {function!r}; LINEAR used")
        function = "LINEAR"
    explanations = _strings(ds.get("WindowCenterWidthExplanation"))
    presets = []
    for index, (center, width) in enumerate(zip(centers, widths, strict=False)):
        minimum = 1.0 if function == "LINEAR" else 0.0
        if not (np.isfinite(center) and np.isfinite(width)) or width < minimum or width <= 0:
            notes.append(f"window {index + 1} (centre {center:g}, width {width:g}) is invalid; ignored")
            continue
        name = explanations[index] if index < len(explanations) else f"window {index + 1}"
        presets.append(WindowPreset(center=center, width=width, name=name, function=function))
    return tuple(presets)


def voi_luts(ds: Dataset, notes: list[str]) -> tuple[VoiLut, ...]:
    """Every VOI LUT Sequence item as a `VoiLut`, in file order; unreadable items are noted."""
    luts = []
    # The first value mapped is in modality units, which are signed when the pixels are or when a
    # negative intercept shifts them below zero.
    signed = bool(ds.get("PixelRepresentation", 0)) or _float_or(ds.get("RescaleIntercept"), 0.0) < 0
    for index, item in enumerate(ds.get("VOILUTSequence") or ()):
        try:
            first_mapped, table, bits = lut_from_item(item, signed=signed)
        except ValueError as error:
            notes.append(f"VOI LUT {index + 1} unreadable ({error}); ignored")
            continue
        name = str(item.get("LUTExplanation", "") or f"VOI LUT {index + 1}")
        luts.append(VoiLut(first_mapped=float(first_mapped), table=table, output_bits=bits, name=name))
    return tuple(luts)


def lut_from_item(item: Dataset, *, signed: bool) -> tuple[int, npt.NDArray[np.float32], int]:
    """(first value mapped, table as float32 (N,), bits per entry) from a LUT sequence item.

    Follows PS3.3 C.11.1.1: a descriptor entry count of 0 means 65536, and the first value mapped is
    signed when the input is. Raises ValueError when the descriptor and data disagree.
    """
    descriptor = item.get("LUTDescriptor")
    if descriptor is None or len(descriptor) != 3:
        raise ValueError("LUT Descriptor missing or not 3 values")
    entries, first_mapped, bits = (int(value) for value in descriptor)
    entries = entries or 65536
    if signed and first_mapped > 32767:
        first_mapped -= 65536
    data = item.get("LUTData")
    if data is None:
        raise ValueError("LUT Data missing")
    if not 1 <= bits <= 16:
        raise ValueError(f"LUT Descriptor says {bits} bits per entry")
    table = _lut_values(data, entries, bits, little_endian=_little_endian(item))
    top = float(table.max())
    if top >= 2**bits:
        # The descriptor understates the depth; trust the data so the table is not clipped.
        log.info("LUT data reach %d, beyond the declared %d bits", top, bits)
        bits = int(np.ceil(np.log2(top + 1)))
    return first_mapped, table.astype(np.float32), bits


def _lut_values(data: object, entries: int, bits: int, *, little_endian: bool) -> npt.NDArray[np.uint16]:
    if isinstance(data, (bytes, bytearray)):
        if len(data) >= 2 * entries:
            table = np.frombuffer(bytes(data[: 2 * entries]), dtype="<u2" if little_endian else ">u2")
        elif bits <= 8 and len(data) >= entries:
            table = np.frombuffer(bytes(data[:entries]), dtype=np.uint8)
        else:
            raise ValueError(f"LUT Data has {len(data)} bytes for {entries} entries")
    else:
        values = [data] if isinstance(data, int) else list(data)  # type: ignore[call-overload]
        if len(values) < entries:
            raise ValueError(f"LUT Data has {len(values)} values for {entries} entries")
        table = np.asarray(values[:entries], dtype=np.int64)
    return table.astype(np.uint16)


def _little_endian(item: Dataset) -> bool:
    encoding = getattr(item, "original_encoding", (None, None))
    return encoding[1] is not False


def _floats(value: object) -> list[float]:
    if value is None or value == "":
        return []
    values: Sequence[object] = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    out = []
    for entry in values:
        try:
            out.append(float(entry))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            out.append(float("nan"))
    return out


def _strings(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [str(entry) for entry in value]
    return [str(value)]


def _float_or(value: object, default: float) -> float:
    floats = _floats(value)
    return floats[0] if floats and np.isfinite(floats[0]) else default
