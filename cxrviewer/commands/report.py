"""`cxrviewer report PATH... --out DIR`: a one-page PDF report per study, headless, with the viewer's
own export code; optionally the view as PNG and a DICOM Secondary Capture, anonymised on request.

Each study is read as the viewer reads it, then the installed gate, classifiers and lesion models
run on it (`analysis.study.StudyAnalysis`, the viewer's steps); the view is the study at its first window with the TB lesion layer
as the viewer draws it by default (no explanation maps: those need a class chosen by a reader).
Files go to DIR as `<stem>.report.pdf`, `<stem>.view.png`, `<stem>.sc.dcm`; with --anonymise the stem
is `anonymised-<n>`, since a file name may carry a patient's name or number.

Skipped files are named with the reason on stderr. The exit status is non-zero when no report could
be written, or when an installed model was refused (a broken signature, a wrong known answer): the
reports are still written, each saying which model could not run, but a batch must not pass as whole.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from cxrviewer.commands.common import add_models_dir
from cxrviewer.core.errors import CxrError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="one-page PDF reports (and PNG / DICOM SC views) of studies, with the installed models",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files and folders (recursive)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="write the files here")
    p.add_argument("--png", action="store_true", help="also write the view as PNG")
    p.add_argument("--dicom", action="store_true", help="also write a DICOM Secondary Capture of the view")
    p.add_argument("--anonymise", action="store_true", help="leave patient identifiers and file names out")
    add_models_dir(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cxrviewer.core.export import write_png, write_secondary_capture
    from cxrviewer.core.io import scan_studies
    from cxrviewer.printing import write_report_pdf  # Qt's PDF writer, offscreen: no screen needed

    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        log.error("cannot create %s: %s", args.out, error.strerror)
        return 1
    writers = [("report.pdf", write_report_pdf)]
    writers += [("view.png", write_png)] if args.png else []
    writers += [("sc.dcm", write_secondary_capture)] if args.dicom else []
    scan = scan_studies(args.paths)
    for path, reason in scan.skipped:
        log.warning("skipped %s: %s", path, reason)
    refused = refused_models(args.models_dir)
    written = 0
    for number, path in enumerate(scan.studies, start=1):
        try:
            content = study_content(path, args.models_dir, args.anonymise)
            stem = f"anonymised-{number}" if args.anonymise else path.stem
            for suffix, write in writers:
                write(args.out / f"{stem}.{suffix}", content)
        except CxrError as error:
            log.warning("skipped %s", error)
            continue
        written += 1
    if not written:
        log.error("no report written for %s", ", ".join(map(str, args.paths)))
        return 1
    log.info("%d report(s) in %s; %d file(s) skipped", written, args.out,
             len(scan.skipped) + len(scan.studies) - written)
    if refused:
        log.error("%d model(s) refused; each report says it could not run: %s", len(refused), "; ".join(refused))
        return 1
    return 0


def refused_models(models_dir: Path | None) -> list[str]:
    """Each installed model the reports would use that is refused, as its error message (logged now)."""
    from cxrviewer import paths
    from cxrviewer.analysis import pipeline
    from cxrviewer.analysis.installed import installed_model
    from cxrviewer.core.cards import card_path, load_card
    from cxrviewer.runtime.registry import installed_models

    folder = models_dir if models_dir is not None else paths.models_dir()
    refused = []
    for name in installed_models(folder):  # a card that cannot be read plays no part: refused too
        try:
            load_card(card_path(folder, name), verify_files=False)
        except CxrError as error:
            log.error("refused: %s", error)
            refused.append(str(error))
    roles = pipeline.model_roles(models_dir)
    for name in filter(None, [roles.gate, *roles.classifiers, *roles.lesions]):
        try:
            installed_model(name, models_dir)
        except CxrError as error:
            log.error("refused: %s", error)
            refused.append(str(error))
    return refused


def study_content(path: Path, models_dir: Path | None, anonymise: bool):
    """The ExportContent of one study: its view with the lesion layers, and every finding model's
    reading (a model that fails is reported as such, not left out)."""
    import numpy as np

    from cxrviewer.analysis import pipeline
    from cxrviewer.analysis.report_readings import (
        finding_reading,
        gate_verdict,
        lesion_reading,
        pending_reading,
    )
    from cxrviewer.analysis.study import StudyAnalysis
    from cxrviewer.core.display.compose import compose, index_map
    from cxrviewer.core.export import ExportContent
    from cxrviewer.core.io import read_image
    from cxrviewer.core.layers import LayerStack, overlay_layers, summary_line
    from cxrviewer.core.legend import layer_legend
    from cxrviewer.core.reading_words import percent

    image = read_image(path)
    roles = pipeline.model_roles(models_dir)
    study = StudyAnalysis(image.pixels, models_dir, roles=roles)
    readings, cards, gate = [], [], ""
    stack, maps, explains = LayerStack(), {}, {}
    steps = [("gate", roles.gate)] + [("finding", name) for name in roles.classifiers]
    steps += [("lesions", name) for name in roles.lesions]
    for kind, name in steps:
        if name is None:
            continue
        try:
            loaded = study.model(name)
        except CxrError as error:
            readings.append(pending_reading(name, str(error)))
            continue
        cards.append(loaded.card)
        try:
            payload = study.run(kind, name)
        except CxrError as error:
            readings.append(pending_reading(name, str(error)))
            continue
        if kind == "gate":
            gate = gate_verdict(payload)
        elif kind == "lesions":  # each lesion model's map in its own layer
            readings.append(lesion_reading(payload, loaded.card))
            stack.adopt_lesion_threshold(payload.threshold, payload.label)
            maps[payload.label] = index_map(payload.probability, stack[payload.label].normalisation)
            explains[payload.label] = f"{name}, image score {percent(payload.score)}"
        else:
            readings.append(finding_reading(payload, loaded.card))
    base = np.rint(image.pixels * 255).astype(np.uint8)
    layers = ["Base: original, at the file's first window"]
    shown = [kind for kind in maps if stack[kind].visible]
    layers += [summary_line(stack[kind], maps[kind]) for kind in shown]
    legends = tuple(layer_legend(stack[kind], maps[kind], explains[kind]) for kind in shown)
    return ExportContent(compose(base, overlay_layers(stack, maps)), tuple(layers), image.meta,
                         tuple(readings), gate, tuple(cards), anonymise, legends=legends)
