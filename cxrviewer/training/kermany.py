"""Kermany 2018 (issue 17): named parts by acquisition period, and lung boxes for a `lung_crop` contract.

**Parts by period.** Kermany's training split has three file-name series, numbered as they were
acquired: normals `IM-xxxx-...`, normals `NORMAL2-IM-xxxx-...` and pneumonia `personN_bacteria|virus_M`.
The official test split (kept aside, not in shared data) holds normals IM-0001..~0110, lower than any
training IM number: numbering tracks the acquisition period, and that period shift is what collapsed
the shipped model's specificity there. So each series' patients are ranked by their number and cut
into three periods, the earliest first:

- ``early`` (the lowest-numbered 20 % of each series' patients): the external test, never trained on
  or selected on;
- ``middle`` (the next 15 %): the shifted validation (best epoch, operating threshold);
- ``late`` (the rest, 65 %): training, with a random internal test cut from it by the split.

The cut is by patient (all of a patient's films share a number), per series, so each part keeps the
collection's class mix. `period_parts(samples)` gives each sample its part; the split
(`splits.part_split`) does the rest. The rule and its counts are in docs/kermany-shift.md.

**Lung boxes.** `python -m cxrviewer.training.kermany lung-boxes --out DIR/labels.csv` writes a copy
of labels.csv with the lung box of every film (columns lung_y0, lung_x0, lung_y1, lung_x1), by the
shipped lung model on the film's own 224x224 grid and `core.lung_mask.lung_crop_box`, the rule the
viewer applies (`analysis.model_input`). A config reads it with `data.csv: <that file>`.
"""

from __future__ import annotations

import argparse
import csv
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path

from cxrviewer.core.atomic import atomic_target
from cxrviewer.training.sources import Sample

log = logging.getLogger(__name__)

# Fractions of each series' patients, earliest period first.
PERIODS = (("early", 0.20), ("middle", 0.15), ("late", 0.65))
LUNG_MARGIN = 0.05
_SERIES = (
    ("normal2", re.compile(r"NORMAL2-IM-(\d+)")),
    ("normal", re.compile(r"(?<![A-Z0-9])IM-(\d+)")),
    ("pneumonia", re.compile(r"person(\d+)_")),
)


def series_and_number(name: str) -> tuple[str, int]:
    """The file-name series and acquisition number of a Kermany file name (or patient id)."""
    for series, pattern in _SERIES:
        found = pattern.search(name)
        if found:
            return series, int(found.group(1))
    raise ValueError(f"{name}: not a Kermany file name (IM-xxxx, NORMAL2-IM-xxxx or personN_...)")


def period_of_patients(numbered: dict[str, tuple[str, int]], periods: Sequence[tuple[str, float]] = PERIODS) -> dict[str, str]:
    """{patient: (series, number)} -> {patient: period}: in each series the patients ranked by number
    (ties by id) and cut at the cumulative fractions of `periods`, rounded to whole patients."""
    out: dict[str, str] = {}
    for series in sorted({s for s, _ in numbered.values()}):
        ranked = sorted((n, p) for p, (s, n) in numbered.items() if s == series)
        total, start, cumulative = len(ranked), 0, 0.0
        for i, (name, fraction) in enumerate(periods):
            cumulative += fraction
            end = total if i == len(periods) - 1 else round(cumulative * total)
            for _, patient in ranked[start:end]:
                out[patient] = name
            start = end
    return out


def period_parts(samples: Sequence[Sample], periods: Sequence[tuple[str, float]] = PERIODS) -> list[str]:
    """Each sample's period part ("early", "middle", "late"), by its file name's series and number."""
    numbered: dict[str, tuple[str, int]] = {}
    for sample in samples:
        key = series_and_number(sample.path.name)
        if numbered.setdefault(sample.patient, key) != key:
            raise ValueError(f"patient {sample.patient}: films of two series or numbers {numbered[sample.patient]}, {key}")
    period = period_of_patients(numbered, periods)
    return [period[s.patient] for s in samples]


def write_lung_boxes(root: Path, out: Path, *, models_dir: Path | None = None, threads: int = 1) -> int:
    """labels.csv of `root` with each film's lung box appended; returns the number of rows."""
    import numpy as np

    from cxrviewer.analysis.pipeline import lung_probability
    from cxrviewer.core.io import read_image
    from cxrviewer.core.lung_mask import LUNG_LEVEL, lung_crop_box
    from cxrviewer.runtime.registry import load_model
    from cxrviewer.training.sources import _read_rows

    lungs = load_model("lungs-unet", models_dir, intra_op_threads=threads)
    rows = _read_rows(root / "labels.csv")
    started = time.perf_counter()
    for done, row in enumerate(rows, start=1):
        probability = lung_probability(lungs, read_image(root / row["image"]).pixels)
        box = lung_crop_box(probability, LUNG_MARGIN)
        row.update(zip(("lung_y0", "lung_x0", "lung_y1", "lung_x1"), box, strict=True))
        row["lung_fraction"] = f"{float((np.asarray(probability) >= LUNG_LEVEL).mean()):.4f}"
        if done % 500 == 0:
            log.info("%d/%d films, %.0f s", done, len(rows), time.perf_counter() - started)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(out) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cxrviewer.training.kermany", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    boxes = sub.add_parser("lung-boxes", help="write labels.csv with each film's lung box")
    boxes.add_argument("--root", default="../shared/data/kermany_pneumonia/train")
    boxes.add_argument("--out", required=True)
    boxes.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    n = write_lung_boxes(Path(args.root).resolve(), Path(args.out), threads=args.threads)
    print(f"{n} films written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
