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
    from cxrviewer.analysis.study_content import study_content
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
