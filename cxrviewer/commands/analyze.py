"""`cxrviewer analyze PATH... --model NAME`: installed models on files and folders, as CSV and arrays.

CSV (to --csv, or to stdout without it): one row per image and model: `path`, `model`, one column
per label holding that classifier's probability (the union of every model's labels; a model leaves
other models' columns empty, and models sharing a label share its column), the summary figures of
image-to-image models (`<label>_area_fraction` for segmentation: share of pixels with probability
>= 0.5; `<label>_mean_abs_change` for bone suppression: mean |output - input|), then `prediction`:
the label chosen at the card's operating threshold (two labels: label 1 when p1 >= its threshold;
more: the most probable; multilabel: every label reaching its threshold, joined by "+"). A label
named `path`, `model` or `prediction` becomes `<model>:<label>`.

--out DIR: for each file `<stem>`, `DIR/<stem>/<model>.<output>.npy`, float32 (H, W) on the file's
own pixel grid: a classifier's --maps (raw, for the predicted class or --class), an image model's
output channels by label (bone suppression: the suppressed image in the card's value range;
segmentation: per-pixel probability). Two files with the same stem get `<stem>-2`, `<stem>-3`, ...

--bone-suppressed DIR: for each file, `DIR/<stem>.npy` (float32 (H, W) in [0, 1], display polarity,
on the file's own grid) and `DIR/<stem>.png` (8-bit) of the soft-tissue view the viewer shows: the
installed bone-suppression model's output inside the lungs (installed lung model), the original
outside them, blended over a seam 3 % of the width wide. Both models are found by their cards; without
a lung model no view is written, since outside the lungs the suppression model's output means nothing.

Skipped files are named with the reason on stderr; the exit status is non-zero only when no file
could be analysed, or when a model is unknown or refused.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path
from typing import TextIO

from cxrviewer.commands.common import add_models_dir
from cxrviewer.core.errors import CxrError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze", help="run installed models on files and folders: CSV of probabilities, maps as .npy",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files and folders (recursive)")
    p.add_argument("--model", action="append", required=True, metavar="NAME",
                   help="installed model (see `cxrviewer models`); repeat for several")
    p.add_argument("--csv", type=Path, default=None, metavar="OUT.csv", help="write the CSV here (default: stdout)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="write maps and output images as .npy here")
    p.add_argument("--maps", default="", metavar="METHODS",
                   help="comma-separated maps for classifiers: saliency,gradcam,cam,crm (needs --out)")
    p.add_argument("--class", dest="explain", default=None, metavar="LABEL",
                   help="explain this label instead of the predicted one (needs --maps)")
    p.add_argument("--bone-suppressed", type=Path, default=None, metavar="DIR",
                   help="write the soft-tissue (bone-suppressed) view of each image here, as .npy and .png")
    p.add_argument("--send", default=None, metavar="PEER",
                   help="send each DICOM study's results (SR, SEG, SC) to this PACS peer, through the outbox")
    p.add_argument("--send-via", choices=("dimse", "stow"), default="dimse", help="C-STORE (default) or STOW-RS")
    p.add_argument("--anonymise", action="store_true", help="results sent without patient identifiers")
    add_models_dir(p)
    p.set_defaults(handler=run, parser=p)


def run(args: argparse.Namespace) -> int:
    from cxrviewer.analysis.study_maps import MAP_METHODS

    args.maps = tuple(m.strip() for m in args.maps.split(",") if m.strip())
    unknown = [m for m in args.maps if m not in MAP_METHODS]
    if unknown:
        args.parser.error(f"unknown map method(s) {', '.join(unknown)}; choose from {','.join(MAP_METHODS)}")
    if args.maps and args.out is None:
        args.parser.error("--maps writes .npy files: give --out DIR")
    if args.explain is not None and not args.maps:
        args.parser.error("--class chooses the class --maps explain: give --maps")
    try:
        models = _load(args)
        args.soft_tissue_models = _soft_tissue_models(args) if args.bone_suppressed is not None else None
    except CxrError as error:
        log.error("%s", error)
        return 1
    if args.csv is None:
        status = _analyse_all(args, models, sys.stdout)
    else:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with open(args.csv, "w", newline="", encoding="utf-8") as stream:
            status = _analyse_all(args, models, stream)
    if args.send is not None:
        status = max(status, _send_all(args))
    return status


def _send_all(args: argparse.Namespace) -> int:
    """--send: each DICOM study's results through the outbox; 1 when any stays in it."""
    from cxrviewer.commands.sending import send_results
    from cxrviewer.core.io import scan_studies
    from cxrviewer.net import quiet_library_logs
    from cxrviewer.net.settings import load_network_settings

    quiet_library_logs(args.verbose)
    try:
        settings = load_network_settings()
        settings.peer(args.send)
    except CxrError as error:
        log.error("%s", error)
        return 1
    kept = False
    for path in scan_studies(args.paths).studies:
        try:
            report = send_results(path, args.send, settings, args.models_dir, args.anonymise, args.send_via)
        except CxrError as error:
            log.warning("no results sent for %s", error)
            continue
        kept = kept or bool(report.kept)
    return 1 if kept else 0


def _load(args: argparse.Namespace) -> list:
    from cxrviewer.analysis.batch import class_index
    from cxrviewer.analysis.findings import operating_thresholds
    from cxrviewer.analysis.installed import installed_model
    from cxrviewer.core.signing import UNSIGNED_TEXT

    models = [installed_model(name, args.models_dir) for name in dict.fromkeys(args.model)]
    for loaded in models:
        card = loaded.card
        log.info("model %s: %s, labels %s, on %s", card.name, card.task, ",".join(card.labels), loaded.provider)
        _, site = operating_thresholds(card)
        if site is not None:  # the CSV's calls follow it: say so where the reader of the run looks
            log.warning("model %s: calls at the %s", card.name, site.describe())
        if not loaded.trust.signed:
            log.warning("model %s: %s", card.name, UNSIGNED_TEXT)
        if card.is_classifier and args.explain is not None:
            class_index(card, args.explain)
        if card.is_classifier and args.out is not None and not args.maps:
            log.info("model %s: no --maps asked, so it writes nothing to %s", card.name, args.out)
    return models


def _soft_tissue_models(args: argparse.Namespace) -> tuple:
    """(bone-suppression model, lung model) installed in --models-dir; ModelError naming what is missing."""
    from cxrviewer.analysis.installed import installed_model
    from cxrviewer.analysis.pipeline import NO_LUNG_MODEL_TEXT, NoLungModelError, model_roles
    from cxrviewer.core.errors import ModelError

    roles = model_roles(args.models_dir)
    if roles.bone_suppression is None:
        raise ModelError("bone suppression", "--bone-suppressed needs an installed bone-suppression model; there is none")
    if roles.lungs is None:
        raise NoLungModelError(roles.bone_suppression, f"--bone-suppressed: {NO_LUNG_MODEL_TEXT}")
    bones, lungs = installed_model(roles.bone_suppression, args.models_dir), installed_model(roles.lungs, args.models_dir)
    log.info("soft-tissue view: %s inside the lungs of %s, on %s", bones.card.name, lungs.card.name, bones.provider)
    return bones, lungs


def _save_soft_tissue(folder: Path, stem: str, study, bones) -> None:
    import numpy as np
    import PIL.Image

    soft, _ = study.soft_tissue(bones.card.name)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{stem}.npy", soft)
    PIL.Image.fromarray(np.round(np.clip(soft, 0, 1) * 255).astype(np.uint8)).save(folder / f"{stem}.png")


def _analyse_all(args: argparse.Namespace, models: list, stream: TextIO) -> int:
    from cxrviewer.analysis.batch import csv_columns, model_result
    from cxrviewer.analysis.study import StudyAnalysis
    from cxrviewer.core.io import read_image, scan_studies

    header, column_of = csv_columns([loaded.card for loaded in models])
    writer = csv.writer(stream)
    writer.writerow(header)
    scan = scan_studies(args.paths)
    for path, reason in scan.skipped:
        log.warning("skipped %s: %s", path, reason)
    stems: dict[str, Path] = {}
    analysed = 0
    for path in scan.studies:
        try:
            pixels = read_image(path).pixels
        except CxrError as error:
            log.warning("skipped %s", error)
            continue
        done = 0
        study = StudyAnalysis(pixels, args.models_dir)  # the viewer's steps: one forward pass, one lung mask
        for loaded in models:
            name = loaded.card.name
            try:
                result = model_result(study, loaded, maps=args.maps, explain=args.explain)
            except CxrError as error:
                log.warning("skipped %s for %s", path, error)
                continue
            cells = dict.fromkeys(header, "")
            cells.update(path=str(path), model=name, prediction=result.prediction)
            cells.update({column_of[(name, key)]: f"{value:.7g}" for key, value in result.values.items()})
            writer.writerow(cells.values())
            if args.out is not None and result.arrays:
                _save_arrays(args.out / _stem(path, stems), name, result.arrays)
            done += 1
        if args.soft_tissue_models is not None:
            try:
                _save_soft_tissue(args.bone_suppressed, _stem(path, stems), study, args.soft_tissue_models[0])
                done += 1
            except CxrError as error:
                log.warning("no soft-tissue view of %s: %s", path, error)
        analysed += done > 0
    stream.flush()
    skipped = len(scan.skipped) + len(scan.studies) - analysed
    if not analysed:
        log.error("nothing could be analysed in %s (%d file(s) skipped)", ", ".join(map(str, args.paths)), skipped)
        return 1
    log.info("analysed %d file(s) with %d model(s); %d skipped", analysed, len(models), skipped)
    return 0


def _stem(path: Path, stems: dict[str, Path]) -> str:
    """`path.stem`, or `<stem>-<n>` when another file already took it (so no output is overwritten)."""
    stem, n = path.stem, 1
    while stems.setdefault(stem, path) != path:
        n += 1
        stem = f"{path.stem}-{n}"
    if n > 1:
        log.warning("%s writes to %s: another file has the stem %s", path, stem, path.stem)
    return stem


def _save_arrays(folder: Path, model: str, arrays: dict) -> None:
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    for output, values in arrays.items():
        np.save(folder / f"{model}.{output}.npy", np.asarray(values, dtype=np.float32))
