"""`cxrviewer site`: the site's own operating thresholds (`core.site_settings`), shown, set, cleared.

    cxrviewer site show
    cxrviewer site set --model NAME --threshold T --films N [--label LABEL] [--date YYYY-MM-DD] [--note TEXT]
    cxrviewer site clear --model NAME

A site threshold is a dated setting beside the card, never an edit of it: findings, worklist calls,
`analyze` and reports call at it and say so. `set` records the installed card's version and
threshold, so a later model version is not run at a threshold calibrated for this one.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date

from cxrviewer.commands.common import add_models_dir
from cxrviewer.core.errors import CxrError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("site", help="the site's own operating thresholds (show, set, clear)",
                       description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("show", help="list the site thresholds and the file they are kept in")
    setter = actions.add_parser("set", help="call a model's label at a site threshold")
    setter.add_argument("--model", required=True)
    setter.add_argument("--threshold", type=float, required=True)
    setter.add_argument("--films", type=int, required=True, help="local films with confirmed outcomes it rests on")
    setter.add_argument("--label", help="the label it calls (default: the model's positive label)")
    setter.add_argument("--date", default=date.today().isoformat(), help="when it was calibrated (default today)")
    setter.add_argument("--note", default="")
    add_models_dir(setter)
    clear = actions.add_parser("clear", help="return a model to its card's threshold")
    clear.add_argument("--model", required=True)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cxrviewer import paths
    from cxrviewer.core.site_settings import load_site_thresholds, remove_site_threshold

    try:
        if args.action == "show":
            settings = load_site_thresholds()
            sys.stdout.write(f"site settings: {paths.site_settings_file()}\n")
            for setting in settings.values():
                sys.stdout.write(f"{setting.model} ({setting.label}): {setting.describe()}"
                                 f"{'; ' + setting.note if setting.note else ''}\n")
            if not settings:
                sys.stdout.write("no site thresholds: every model calls at its card's threshold\n")
            return 0
        if args.action == "clear":
            removed = remove_site_threshold(args.model)
            sys.stdout.write(f"{args.model}: {'back to its card threshold' if removed else 'had no site threshold'}\n")
            return 0
        return _set(args)
    except CxrError as error:
        log.error("%s", error)
        return 1


def _set(args: argparse.Namespace) -> int:
    from cxrviewer.analysis.findings import positive_label
    from cxrviewer.analysis.installed import installed_model
    from cxrviewer.core.errors import ModelError
    from cxrviewer.core.site_settings import SiteThreshold, save_site_threshold

    card = installed_model(args.model, args.models_dir).card
    if card.task in ("gate", "bone_suppression", "multilabel") or (card.is_classifier and len(card.labels) != 2) or (
            card.task == "segmentation" and not card.thresholds):
        raise ModelError(card.name, f"a {card.task} model with labels {list(card.labels)} has no single "
                                    "operating threshold a site can calibrate")
    label, card_threshold = positive_label(card)
    if args.label is not None and args.label != label:
        raise ModelError(card.name, f"its threshold calls {label!r}, not {args.label!r}")
    setting = SiteThreshold(card.name, label, args.threshold, card_threshold, card.version, args.films, args.date,
                            args.note)
    where = save_site_threshold(setting)
    sys.stdout.write(f"{card.name} ({label}): {setting.describe()}; saved in {where}\n")
    return 0
